"""Writes presenter.svg: the built-in presenter, drawn for MySpinBot (see README.md).

The character is plain SVG paths; its mouth shapes are generated from the same four numbers the lip-sync
stage animates (open, spread, round, teeth: VISEMES in spinbot_worker/presenter/speech.py), one
<g id="mouth-NAME"> layer per shape, so the art and the animation cannot drift apart. Run it again after
changing the art: python assets/presenter/draw_presenter.py (PYTHONPATH=gpu-bridge/worker).
"""

from pathlib import Path

from spinbot_worker.presenter.speech import VISEMES

SKIN, SKIN_SHADE, HAIR, LINE = "#f2c6a0", "#e0a987", "#4a2f23", "#3a2419"
MOUTH_X, MOUTH_Y = 300, 512


def mouth(name: str, open_: float, spread: float, round_: float, teeth: float) -> str:
    half = 40 * (1 + 0.22 * spread - 0.38 * round_)
    gap = 44 * open_
    inner_half = half * (0.86 - 0.25 * round_)
    x, y = MOUTH_X, MOUTH_Y
    top, bottom = y - gap * 0.42, y + gap * 0.58
    upper = (f"M{x - half:.1f},{y:.1f} C{x - half * 0.6:.1f},{top - 11:.1f} {x - 14:.1f},{top - 15:.1f} {x - 6:.1f},{top - 11:.1f} "
             f"Q{x:.1f},{top - 8:.1f} {x + 6:.1f},{top - 11:.1f} C{x + 14:.1f},{top - 15:.1f} {x + half * 0.6:.1f},{top - 11:.1f} {x + half:.1f},{y:.1f} ")
    lips = upper + f"C{x + half * 0.55:.1f},{bottom + 15:.1f} {x - half * 0.55:.1f},{bottom + 15:.1f} {x - half:.1f},{y:.1f} Z"
    parts = [f'<path d="{lips}" fill="#c4626a"/>']
    if gap < 1.5:
        parts.append(f'<path d="M{x - half + 3:.1f},{y:.1f} Q{x:.1f},{y + 3:.1f} {x + half - 3:.1f},{y:.1f}" '
                     f'fill="none" stroke="#7a2e34" stroke-width="3" stroke-linecap="round"/>')
    else:
        cavity = (f"M{x - inner_half:.1f},{y:.1f} C{x - inner_half * 0.7:.1f},{top - 1:.1f} {x + inner_half * 0.7:.1f},{top - 1:.1f} "
                  f"{x + inner_half:.1f},{y:.1f} C{x + inner_half * 0.7:.1f},{bottom + 1:.1f} {x - inner_half * 0.7:.1f},{bottom + 1:.1f} "
                  f"{x - inner_half:.1f},{y:.1f} Z")
        clip = f"clip-{name}"
        teeth_h = min(11.0, gap * 0.45) * (0.4 + 0.6 * teeth)
        parts += [
            f'<clipPath id="{clip}"><path d="{cavity}"/></clipPath>',
            f'<path d="{cavity}" fill="#3b1518"/>',
            f'<g clip-path="url(#{clip})">'
            f'<rect x="{x - half:.1f}" y="{top - 6:.1f}" width="{2 * half:.1f}" height="{teeth_h + 6:.1f}" rx="3" fill="#f7f3ec"/>'
            f'<ellipse cx="{x:.1f}" cy="{bottom + 2:.1f}" rx="{inner_half * 0.65:.1f}" ry="{gap * 0.3 + 2:.1f}" fill="#c0505a"/>'
            f'</g>',
        ]
    return f'<g id="mouth-{name}">' + "".join(parts) + "</g>"


def eye(cx: float, cy: float, mirror: int) -> str:
    return (f'<ellipse cx="{cx}" cy="{cy}" rx="27" ry="16" fill="#ffffff"/>'
            f'<circle cx="{cx}" cy="{cy + 1}" r="12.5" fill="#5a3b22"/><circle cx="{cx}" cy="{cy + 1}" r="6" fill="#111111"/>'
            f'<circle cx="{cx + 4}" cy="{cy - 3}" r="3" fill="#ffffff"/>'
            f'<path d="M{cx - 29},{cy + 2} Q{cx},{cy - 24} {cx + 29},{cy + 2}" fill="none" stroke="{LINE}" stroke-width="4.5" stroke-linecap="round"/>'
            f'<path d="M{cx - 26 * mirror},{cy - 40} Q{cx + 2 * mirror},{cy - 56} {cx + 33 * mirror},{cy - 40}" fill="none" '
            f'stroke="{LINE}" stroke-width="9" stroke-linecap="round"/>')


def lid(cx: float, cy: float) -> str:
    # Covers the whole eye (the white reaches 16 units above and below its centre); lashes along the bottom.
    return (f'<path d="M{cx - 31},{cy + 2} Q{cx},{cy - 36} {cx + 31},{cy + 2} Q{cx},{cy + 36} {cx - 31},{cy + 2} Z" fill="{SKIN_SHADE}"/>'
            f'<path d="M{cx - 29},{cy + 4} Q{cx},{cy + 30} {cx + 29},{cy + 4}" fill="none" stroke="{LINE}" stroke-width="4" stroke-linecap="round"/>')


def svg() -> str:
    mouths = "".join(mouth(name, *shape) for name, shape in VISEMES.items())
    return f'''<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 720" width="600" height="720">
<!-- MySpinBot's built-in presenter. Drawn for this project; CC0 1.0 (see README.md). Layers: backdrop, body, head,
     lids (closed eyelids, shown while blinking), mouth-* (one per mouth shape; the renderer shows one blend at a time).
     The head pivots around the neck at (300, 590). -->
<defs><radialGradient id="studio" cx="50%" cy="38%" r="75%"><stop offset="0" stop-color="#5b7fa6"/><stop offset="1" stop-color="#1d2c44"/></radialGradient></defs>
<g id="backdrop"><rect width="600" height="720" fill="url(#studio)"/></g>
<g id="body">
<path d="M255,495 L345,495 L352,590 Q300,612 248,590 Z" fill="{SKIN_SHADE}"/>
<path d="M40,720 C60,625 160,585 245,572 L355,572 C440,585 540,625 560,720 Z" fill="#2f5d73"/>
<path d="M245,572 L300,650 L355,572 Z" fill="#f4f4f4"/>
<path d="M245,572 L300,650 L268,600 Z M355,572 L300,650 L332,600 Z" fill="#244a5c"/>
</g>
<g id="head">
<ellipse cx="170" cy="405" rx="22" ry="36" fill="{SKIN_SHADE}"/><ellipse cx="430" cy="405" rx="22" ry="36" fill="{SKIN_SHADE}"/>
<path d="M300,240 C392,240 436,310 433,400 C431,492 386,578 300,588 C214,578 169,492 167,400 C164,310 208,240 300,240 Z" fill="{SKIN}"/>
<path d="M158,400 C146,262 212,192 303,192 C396,192 456,258 442,400 C436,335 418,296 392,280 C350,306 262,304 214,288 C188,310 168,345 158,400 Z" fill="{HAIR}"/>
{eye(248, 392, 1)}{eye(352, 392, -1)}
<path d="M300,400 Q293,442 284,462 Q300,474 316,462" fill="none" stroke="#c98e6b" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round"/>
<ellipse cx="226" cy="470" rx="26" ry="13" fill="#f09a8a" opacity="0.35"/><ellipse cx="374" cy="470" rx="26" ry="13" fill="#f09a8a" opacity="0.35"/>
</g>
<g id="lids">{lid(248, 392)}{lid(352, 392)}</g>
{mouths}
</svg>
'''


if __name__ == "__main__":
    Path(__file__).with_name("presenter.svg").write_text(svg(), encoding="utf-8")
