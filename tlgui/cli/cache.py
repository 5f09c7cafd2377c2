"""``tlgui cache info|clear|limit [GB]``: the on-disk caches of decoded images and of frozen
backbone features (what ``tlgui rank`` and head-only runs store and reuse)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("cache",
                       help="show or clear the caches of decoded images and stored features, or limit the image cache")
    p.add_argument("action", choices=("info", "clear", "limit"))
    p.add_argument("gb", nargs="?", type=float, help="with limit: the new limit in GB (0 turns the cache off)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.data.decode_cache import (
        cache_size_bytes,
        clear_cache,
        decode_cache_dir,
        limit_bytes,
    )
    from tlgui.core.training.feature_store import LIMIT_BYTES, clear_features, store_dir, store_size

    if args.action == "clear":
        count, size = clear_cache()
        print(f"removed {count:,} decoded image(s), {size / 1e6:.1f} MB, from {decode_cache_dir()}")
        count, size = clear_features()
        print(f"removed {count:,} stored feature set(s), {size / 1e6:.1f} MB, from {store_dir()}")
        return 0
    if args.action == "limit" and args.gb is not None:
        return _set_limit(args.gb)
    count, size = cache_size_bytes()
    print(f"{decode_cache_dir()}: {count:,} decoded image(s), {size / 1e6:.1f} MB; "
          f"limit {limit_bytes() / 1024**3:g} GB")
    count, size = store_size()
    print(f"{store_dir()}: {count:,} stored feature set(s) (frozen backbone features of rank and head-only runs), "
          f"{size / 1e6:.1f} MB; limit {LIMIT_BYTES / 1024**3:g} GB")
    return 0


def _set_limit(gb: float) -> int:
    import math
    import sys

    from tlgui.settings import load_settings, save_settings

    if not math.isfinite(gb) or gb < 0:
        print(f"tlgui: error: cache limit {gb:g} GB: give a size of 0 or more", file=sys.stderr)
        return 2
    settings = load_settings()
    settings.image_cache_limit_gb = gb
    if not save_settings(settings):
        print("tlgui: error: the settings file could not be written; the cache limit is unchanged", file=sys.stderr)
        return 2
    print(f"image cache limit: {gb:g} GB" + (" (the cache is off)" if gb == 0 else ""))
    return 0
