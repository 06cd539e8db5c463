// DOM helpers both pages share: lookups, the error banner, the copy-link button and the video
// picker's options. Anything users typed (file names, titles) goes in as text, never as markup.

export const $ = (selector, root = document) => root.querySelector(selector);

/** Show `message` in the page's `[data-error]` banner; an empty message hides it. */
export function showError(message) {
  const el = $("[data-error]");
  el.textContent = message ?? "";
  el.hidden = !message;
}

/**
 * `[data-copy]` copies the `[data-share-link]` field inside `root` and shows `[data-copied]`.
 * Without clipboard permission the link is left selected for a manual copy.
 */
export function bindCopyLink(root = document) {
  const link = $("[data-share-link]", root);
  $("[data-copy]", root).addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(link.value);
    } catch {
      link.select();
    }
    $("[data-copied]", root).hidden = false;
  });
}

/** The label of a library video in a picker: its title, else its file name, else its id. */
export function videoLabel(video) {
  return video.title ?? video.name ?? video.id;
}

/** {value, label} of each picker entry; "" is the session default (the Go server's /api/video). */
export function videoChoices(videos, { withDefault = false } = {}) {
  const choices = videos.map((v) => ({ value: v.id, label: videoLabel(v) }));
  return withDefault ? [{ value: "", label: "(default video)" }, ...choices] : choices;
}

/** Fill `select` with the choices for `videos` and select `selected` ("" = the default). */
export function fillVideoSelect(select, videos, { withDefault = false, selected = "" } = {}) {
  const options = videoChoices(videos, { withDefault }).map(({ value, label }) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  });
  select.replaceChildren(...options);
  select.value = selected;
}
