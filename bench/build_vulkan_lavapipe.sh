#!/usr/bin/env bash
# A Vulkan build of the pinned llama.cpp that runs on Mesa's software Vulkan driver (lavapipe), so the
# Vulkan path and a real GPU device (about 2 GiB of "device" memory) can be exercised on a CPU machine.
#
#   bench/build_vulkan_lavapipe.sh     -> prints the folder for LLAMA_CPP_LIB_PATH on its last line
#
# Debian 12's glslc, libvulkan1, spirv-headers and mesa-vulkan-drivers work, but its Vulkan headers (1.3.239) are
# too old for the vendored ggml-vulkan (vk::LayerSettingEXT), so the headers come from Debian 13's
# libvulkan-dev, downloaded with a private apt state and unpacked into a cache folder: nothing from
# Debian 13 is installed system-wide.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SEMZIP_BUILD_ROOT:-$HOME/.cache/semzip}
HEADERS=$CACHE/vulkan-headers-1.4

need=()
command -v glslc >/dev/null || need+=(glslc)
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so ] || need+=(libvulkan1 libvulkan-dev)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
[ -d /usr/share/cmake/SPIRV-Headers ] || need+=(spirv-headers)
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y --no-install-recommends "${need[@]}" >&2
fi

if [ ! -f "$HEADERS/usr/include/vulkan/vulkan.hpp" ]; then
  apt_dir=$(mktemp -d)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives")
  apt-get "${opts[@]}" update >&2
  (cd "$apt_dir" && apt-get "${opts[@]}" download libvulkan-dev >&2)
  mkdir -p "$HEADERS"
  dpkg -x "$apt_dir"/libvulkan-dev_*.deb "$HEADERS"
  rm -rf "$apt_dir"
fi

EXTRA_CMAKE_ARGS="-DVulkan_INCLUDE_DIR=$HEADERS/usr/include ${EXTRA_CMAKE_ARGS:-}" \
  bash "$HERE/build_llama_cpp.sh" vulkan llama ggml
