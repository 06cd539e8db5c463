// Each page's <link rel="modulepreload"> list must be exactly the static import graph of its entry
// module (minus the entry itself): a module missing from the list is fetched one round trip late,
// a stale entry is fetched for nothing. This test keeps the hand-written lists from drifting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The static `import … from "…"` / `export … from "…"` specifiers of one module's source. */
export function staticImports(source) {
  const found = [];
  const re = /^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm;
  for (const m of source.matchAll(re)) found.push(m[1] ?? m[2]);
  return found;
}

/** Every module reachable from `entry` (a site path like "/js/player.js"), the entry excluded. */
function importGraph(entry) {
  const seen = new Set();
  const visit = (path) => {
    const source = readFileSync(join(WEB, path), "utf8");
    for (const spec of staticImports(source)) {
      if (!spec.startsWith(".")) continue; // bare or absolute URLs are not our modules
      const target = posix.normalize(posix.join(posix.dirname(path), spec));
      if (seen.has(target)) continue;
      seen.add(target);
      visit(target);
    }
  };
  visit(entry);
  seen.delete(entry);
  return seen;
}

function pages() {
  const html = ["/index.html", ...readdirSync(join(WEB, "pages")).filter((f) => f.endsWith(".html")).map((f) => `/pages/${f}`)];
  return html.map((path) => {
    const text = readFileSync(join(WEB, path), "utf8");
    const entry = text.match(/<script type="module" src="([^"]+)"/)?.[1] ?? null;
    const preloads = [...text.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]);
    return { path, entry, preloads };
  });
}

test("the import scanner sees static imports and re-exports, not dynamic ones", () => {
  const src = 'import { a } from "./a.js";\nimport {\n  b,\n} from "./b.js";\nexport { c } from "./c.js";\nimport "./d.js";\nconst e = import("./e.js");\n';
  assert.deepEqual(staticImports(src), ["./a.js", "./b.js", "./c.js", "./d.js"]);
});

for (const { path, entry, preloads } of pages()) {
  test(`${path} preloads exactly its entry module's imports`, () => {
    assert.ok(entry, `${path} has one module entry point`);
    assert.equal(new Set(preloads).size, preloads.length, "no module is listed twice");
    assert.deepEqual([...preloads].sort(), [...importGraph(entry)].sort());
  });
}
