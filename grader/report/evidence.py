"""Turn student-controlled evidence into bounded, typed values the templates and plots can trust.

Everything in a result document's ``evidence`` came, one way or another, from a student's
notebook. Each reader here accepts only the shape agreed with the scorer, caps sizes and returns
``None`` for anything odd, so a strange value costs one plot, never the whole report.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from typing import Any

MAX_SERIES = 500  # points per curve
MAX_TEXT = 4000  # characters of a message or answer shown
MAX_TRACEBACK = 12000  # characters of a traceback shown (head and tail kept)
MAX_PNG_BASE64 = 3_000_000  # characters of base64 accepted for one image
MAX_IMAGE_SIDE = 1024  # pixels; larger images are refused before decoding
MAX_MAGNITUDE = 1e12  # plotted values beyond this are gaps (they would only flatten the plot)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (documents are read, not trusted)."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """A display string: non-strings become '', long strings are cut with a marker."""
    if not isinstance(value, str):
        return ""
    if len(value) <= limit:
        return value
    return value[:limit] + f" … [{len(value) - limit} more characters cut]"


def traceback_text(value: Any, limit: int = MAX_TRACEBACK) -> str:
    """A traceback keeps its head and tail: the tail holds the error, the head the failing cell."""
    if not isinstance(value, str):
        return ""
    if len(value) <= limit:
        return value
    half = limit // 2
    return value[:half] + f"\n… [{len(value) - limit} characters cut] …\n" + value[-half:]


def number(value: Any) -> float | None:
    """A finite float, or None (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def series(value: Any, limit: int = MAX_SERIES) -> list[float] | None:
    """A list of numbers to plot; non-finite entries become NaN (a gap). None if unusable."""
    if not isinstance(value, list) or not value:
        return None
    out: list[float] = []
    for entry in value[:limit]:
        if isinstance(entry, bool) or not isinstance(entry, (int, float)):
            if entry is None:
                out.append(math.nan)
                continue
            return None
        as_float = float(entry)
        out.append(as_float if math.isfinite(as_float) and abs(as_float) <= MAX_MAGNITUDE else math.nan)
    if all(math.isnan(v) for v in out):
        return None
    return out


def curve(evidence: Any) -> dict[str, Any] | None:
    """``{"values", "x", "x_label", "band"}`` from curve evidence; the band only if it lines up."""
    if not isinstance(evidence, dict):
        return None
    values = series(evidence.get("values"))
    if values is None:
        return None
    x = series(evidence.get("x"))
    if x is None or len(x) != len(values) or any(math.isnan(v) for v in x):
        x = [float(i + 1) for i in range(len(values))]
    band = None
    expected = evidence.get("expected")
    if isinstance(expected, dict):
        parts = {key: series(expected.get(key)) for key in ("mean", "low", "high")}
        if all(p is not None and len(p) == len(x) for p in parts.values()):
            band = parts
    return {"values": values, "x": x, "x_label": text(evidence.get("x_label"), 60), "band": band}


X_KEYS = ("x", "epochs", "depths", "max_depth", "lr_rates", "learning_rates")
NOT_SERIES = frozenset({"values", "expected", "image_png", "original_png", "answer", "manual"})
MAX_LINES = 8
SERIES_NAMES = {"train": "train", "val": "validation"}


def series_set(evidence: Any) -> dict[str, Any] | None:
    """Named number lists over one shared x, e.g. ``{"train": [...], "val": [...]}`` (per epoch) or
    ``{"depths": [...], "dt_train": [...], "dt_val": [...]}``; None if there is nothing to draw.

    The x axis is the first of ``X_KEYS`` present; without one, the position (1, 2, ...) is
    labelled "epoch", which is what un-keyed train/val lists are in every rubric so far.
    """
    if not isinstance(evidence, dict):
        return None
    x, x_key = None, ""
    for key in X_KEYS:
        candidate = series(evidence.get(key))
        if candidate is not None and not any(math.isnan(v) for v in candidate):
            x, x_key = candidate, key
            break
    lines: dict[str, list[float]] = {}
    for key, value in evidence.items():
        if key in NOT_SERIES or key == x_key or key in X_KEYS or not isinstance(key, str):
            continue
        values = series(value)
        if values is None or len(values) < 2 or (x is not None and len(values) != len(x)):
            continue
        lines[SERIES_NAMES.get(key, text(key, 40))] = values
        if len(lines) == MAX_LINES:
            break
    if not lines:
        return None
    if x is None:
        longest = max(len(v) for v in lines.values())
        x, x_key = [float(i + 1) for i in range(longest)], "epoch"
    x_label = text(evidence.get("x_label"), 60) or {"depths": "max_depth", "lr_rates": "learning rate"}.get(
        x_key, x_key
    )
    return {"x": x, "x_label": x_label, "lines": lines}


def threshold(evidence: Any) -> dict[str, float] | None:
    """``{"value", "full_at", "zero_at", "fraction"}``: where the value sits between zero and full."""
    if not isinstance(evidence, dict):
        return None
    value, full, zero = (number(evidence.get(k)) for k in ("value", "full_at", "zero_at"))
    if value is None or full is None or zero is None or full == zero:
        return None
    fraction = min(1.0, max(0.0, (value - zero) / (full - zero)))
    return {"value": value, "full_at": full, "zero_at": zero, "fraction": fraction}


def png(value: Any) -> bytes | None:
    """Decode a base64 PNG, check it really is a bounded PNG, and re-encode it ourselves.

    Re-encoding means every data URI in a report holds bytes this process produced from decoded
    pixels, never bytes a student chose.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_PNG_BASE64:
        return None
    if value.startswith("data:image/png;base64,"):
        value = value[len("data:image/png;base64,") :]
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(PNG_SIGNATURE):
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            width, height = image.size
            if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
                return None
            image.load()
            mode = image.mode if image.mode in ("RGB", "RGBA", "L") else "RGBA"
            clean = image.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    clean.save(out, format="PNG")
    return out.getvalue()


def data_uri(png_bytes: bytes) -> str:
    """A ``data:image/png`` URI for PNG bytes produced by this package."""
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")
