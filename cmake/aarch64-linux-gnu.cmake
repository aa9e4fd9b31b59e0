# Cross-compiling rtmo.cpp for 64-bit Arm Linux (aarch64) on a Debian 12 x86-64 machine,
# and running the result under qemu-user. tools/test_aarch64.sh installs everything this
# file expects and is the way to use it:
#   cmake -S . -B build-aarch64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DRTMO_BUILD_BENCH=OFF
#
# Debian's cross toolchain (g++-aarch64-linux-gnu) is multiarch-aware: it searches
# /usr/include and /usr/lib/aarch64-linux-gnu, where `dpkg --add-architecture arm64` puts
# the arm64 builds of libhwy-dev, libgtest-dev and libstb-dev. Eigen and nlohmann-json are
# header-only and architecture-independent. OpenMP (libgomp) comes with the cross gcc
# for linking; libgomp1:arm64 provides it at run time.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(RTMO_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${RTMO_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${RTMO_CROSS_TRIPLE}-g++)

# pkg-config must see only the arm64 .pc files (libhwy.pc), never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR}
    /usr/lib/${RTMO_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Programs built here run under qemu-user: try_run, gtest_discover_tests and ctest prepend
# this. Their runtime is Debian's arm64 one (libc6, libstdc++6, libgomp1, libhwy1 :arm64,
# multiarch in /usr/lib/aarch64-linux-gnu, loader /lib/ld-linux-aarch64.so.1), so no -L
# prefix is needed and loader, libc and libgomp always come from one consistent set
# (mixing the cross toolchain's loader with the arm64 libc works only while their
# versions happen to match). The CPU model is QEMU_CPU from the environment (qemu's
# default is `max`: SVE2 with 512-bit vectors); tools/test_aarch64.sh sets it per run.
find_program(RTMO_QEMU_AARCH64 qemu-aarch64 REQUIRED
             DOC "qemu-user's aarch64 emulator (Debian package qemu-user)")
set(CMAKE_CROSSCOMPILING_EMULATOR ${RTMO_QEMU_AARCH64})
