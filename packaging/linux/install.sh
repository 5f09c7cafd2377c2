#!/bin/sh
# Install tlgui for the current user, from the unpacked archive this script sits in.
#
#   ./install.sh                  copy this folder to ~/.local/lib/tlgui, add the `tlgui` command
#                                 (~/.local/bin/tlgui) and a menu entry with its icon
#   ./install.sh --uninstall      remove all of that again (your runs, models and settings stay)
#   ./install.sh --prefix DIR     use DIR instead of ~/.local (DIR/lib, DIR/bin, DIR/share)
#
# No root needed, nothing outside the prefix is touched. Installing again replaces the old copy.
set -eu

usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }
die() { echo "install.sh: error: $*" >&2; exit 2; }

action=install
prefix=""
prefix_option=""
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) action=uninstall ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

[ -n "${HOME:-}" ] || die "HOME is not set"
if [ -n "$prefix" ]; then
  mkdir -p "$prefix" || die "cannot create $prefix"
  prefix=$(cd "$prefix" && pwd)
  prefix_option=" --prefix $prefix"
  share=$prefix/share
else
  prefix=$HOME/.local
  share=${XDG_DATA_HOME:-$HOME/.local/share}
fi
app_dir=$prefix/lib/tlgui
bin_link=$prefix/bin/tlgui
desktop_file=$share/applications/tlgui.desktop
icon_png=$share/icons/hicolor/256x256/apps/tlgui.png
icon_svg=$share/icons/hicolor/scalable/apps/tlgui.svg

refresh_menus() {  # best effort: desktops also notice the files on their own
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$share/applications" 2>/dev/null || true
  fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$share/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$share/icons/hicolor" 2>/dev/null || true
  fi
}

if [ "$action" = uninstall ]; then
  if [ -L "$bin_link" ] && [ "$(readlink "$bin_link")" = "$app_dir/tlgui" ]; then
    rm -f "$bin_link"
  fi
  rm -f "$desktop_file" "$icon_png" "$icon_svg"
  rm -rf "$app_dir"
  refresh_menus
  echo "tlgui is uninstalled from $prefix."
  echo "Your runs, models and settings are kept in ~/.local/share/tlgui, ~/.config/tlgui and"
  echo "~/.cache/tlgui (or under \$TLGUI_HOME if you set it); delete those folders to remove them too."
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
[ -x "$here/tlgui" ] && [ -d "$here/_internal" ] \
  || die "run install.sh from the unpacked tlgui folder (it needs tlgui and _internal/ next to it)"

mkdir -p "$prefix/lib" "$prefix/bin" "$share/applications" \
  "$share/icons/hicolor/256x256/apps" "$share/icons/hicolor/scalable/apps" \
  || die "cannot create folders under $prefix"

if [ "$here" != "$app_dir" ]; then
  echo "copying tlgui to $app_dir ..."
  rm -rf "$app_dir.new"
  cp -R -P "$here" "$app_dir.new" || { rm -rf "$app_dir.new"; die "copying to $app_dir.new failed (disk full?)"; }
  rm -rf "$app_dir"
  mv "$app_dir.new" "$app_dir"
fi
ln -sfn "$app_dir/tlgui" "$bin_link"

cp "$app_dir/share/tlgui.png" "$icon_png"
cp "$app_dir/share/tlgui.svg" "$icon_svg"
# the menu starts the installed executable by its full path: ~/.local/bin is not on every PATH
# (quoted, with \ " ` $ escaped as the desktop entry spec asks)
exec_path=$(printf '%s' "$app_dir/tlgui" | sed 's/[\\"`$]/\\\\&/g')
while IFS= read -r line; do
  case "$line" in
    Exec=*) printf 'Exec="%s"\n' "$exec_path" ;;
    Icon=*) printf 'Icon=%s\n' "$icon_png" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$app_dir/share/tlgui.desktop" > "$desktop_file.new"
mv "$desktop_file.new" "$desktop_file"
chmod 644 "$desktop_file"
refresh_menus

version=$("$app_dir/tlgui" --version 2>/dev/null) || die "the installed $app_dir/tlgui does not start"
echo "installed $version in $app_dir"
echo "menu entry: $desktop_file"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) echo "start it from the menu, or run: tlgui" ;;
  *) echo "start it from the menu, or run: $bin_link ($prefix/bin is not on your PATH)" ;;
esac
echo "uninstall: $app_dir/install.sh --uninstall$prefix_option"
