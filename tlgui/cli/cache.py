"""``tlgui cache info|clear``: the on-disk cache of decoded images."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("cache", help="show or clear the cache of decoded images")
    p.add_argument("action", choices=("info", "clear"))
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.data.decode_cache import cache_size_bytes, clear_cache, decode_cache_dir

    if args.action == "clear":
        count, size = clear_cache()
        print(f"removed {count:,} decoded image(s), {size / 1e6:.1f} MB, from {decode_cache_dir()}")
        return 0
    count, size = cache_size_bytes()
    print(f"{decode_cache_dir()}: {count:,} decoded image(s), {size / 1e6:.1f} MB")
    return 0
