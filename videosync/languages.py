"""Display names of the languages subtitles commonly come in, for track labels.

A short table written here rather than a dependency: the libraries that know every language
(langcodes with language_data, babel) weigh megabytes for what is a label on a button. A code
not in the table is shown as it is. ffprobe reports ISO 639-2 codes (`eng`, `fre`/`fra`); the
two-letter code is used where one exists.
"""

from __future__ import annotations

NAMES = {
    "ar": "العربية", "bg": "Български", "bn": "বাংলা", "ca": "Català", "cs": "Čeština", "da": "Dansk",
    "de": "Deutsch", "el": "Ελληνικά", "en": "English", "es": "Español", "et": "Eesti", "fa": "فارسی",
    "fi": "Suomi", "fr": "Français", "he": "עברית", "hi": "हिन्दी", "hr": "Hrvatski", "hu": "Magyar",
    "id": "Bahasa Indonesia", "it": "Italiano", "ja": "日本語", "ko": "한국어", "lt": "Lietuvių",
    "lv": "Latviešu", "ms": "Bahasa Melayu", "nb": "Norsk bokmål", "nl": "Nederlands", "no": "Norsk",
    "pl": "Polski", "pt": "Português", "ro": "Română", "ru": "Русский", "sk": "Slovenčina",
    "sl": "Slovenščina", "sr": "Српски", "sv": "Svenska", "th": "ไทย", "tr": "Türkçe", "uk": "Українська",
    "vi": "Tiếng Việt", "zh": "中文",
}
REGIONS = {"BR": "Brasil", "PT": "Portugal", "US": "US", "GB": "UK", "MX": "México", "CN": "简体",
           "TW": "繁體", "HK": "香港", "CA": "Canada", "ES": "España"}
ISO639_2 = {
    "ara": "ar", "bul": "bg", "ben": "bn", "cat": "ca", "ces": "cs", "cze": "cs", "dan": "da",
    "deu": "de", "ger": "de", "ell": "el", "gre": "el", "eng": "en", "spa": "es", "est": "et",
    "fas": "fa", "per": "fa", "fin": "fi", "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi",
    "hrv": "hr", "hun": "hu", "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "lit": "lt",
    "lav": "lv", "msa": "ms", "may": "ms", "nob": "nb", "nld": "nl", "dut": "nl", "nor": "no",
    "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru", "slk": "sk", "slo": "sk",
    "slv": "sl", "srp": "sr", "swe": "sv", "tha": "th", "tur": "tr", "ukr": "uk", "vie": "vi",
    "zho": "zh", "chi": "zh",
}


def short_code(lang: str) -> str:
    """`eng-US` → `en-US`: the two-letter primary subtag where ISO 639-1 has one."""
    first, _, rest = lang.partition("-")
    first = ISO639_2.get(first.lower(), first.lower())
    return f"{first}-{rest}" if rest else first


def language_name(lang: str) -> str | None:
    """`pt-BR` → `Português (Brasil)`; None for a language not in the table (or `und`)."""
    first, _, rest = short_code(lang).partition("-")
    name = NAMES.get(first)
    if name is None:
        return None
    region = rest.split("-")[0].upper() if rest else ""
    return f"{name} ({REGIONS.get(region, region)})" if region else name
