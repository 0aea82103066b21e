#pragma once
// Debian's cpp-httplib (libcpp-httplib.so), for the HTTP servers and the service client.
// The library is compiled with these (see cpp-httplib.pc); every includer must see the
// same ones, or Request's layout differs from the library's. A heavy header: include it
// from .cpp files only.
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
