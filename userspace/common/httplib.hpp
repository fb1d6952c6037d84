// SPDX-License-Identifier: Apache-2.0
// cpp-httplib, as Debian built it.
//
// Debian's libcpp-httplib is a compiled library, not the single header, built
// with the options below (pkg-config --cflags cpp-httplib). httplib::Request
// and httplib::Client change layout with them: every file including
// httplib.h must agree with the library or the two disagree about sizes.
// Include this instead of <httplib.h>.
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <httplib.h>
