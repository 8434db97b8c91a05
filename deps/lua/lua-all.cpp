// One translation unit for all of Lua (in the manner of Lua's own onelua.c), compiled as
// C++ (C++ linkage: nothing clashes with another Lua in the process) but raising errors the
// way Lua compiled as C does, with _setjmp/_longjmp: a C++ throw costs microseconds per
// Lua error, a longjmp tens of nanoseconds (docs/design.md, "Lua errors are longjmps").
// So no C++ object with a destructor may be alive in a frame a Lua error crosses
// (native/lua-error.hpp has the rule). The standalone interpreter (lua.c) and compiler
// (luac.c) are not part of the addon.

// ldo.c picks _setjmp/_longjmp under LUA_USE_POSIX (LUA_USE_LINUX) when this is defined,
// C++ exceptions otherwise. The ThreadSanitizer build (GCC defines __SANITIZE_THREAD__)
// keeps exceptions: TSan's shadow call stack is not unwound by a _longjmp out of
// instrumented frames, and thousands of Lua errors overflow it. TSan checks the threading;
// the plain and the ASan builds run the longjmp path.
#ifndef __SANITIZE_THREAD__
#define LUA_USE_LONGJMP
#endif

#include "src/lprefix.h"

// C++ standard headers first: Lua's sources define short macros (llex.c's `next`) that
// would otherwise break the C++ library headers pulled in by later files.
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <climits>
#include <clocale>
#include <cmath>
#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

// core
#include "src/lzio.c"
#include "src/lctype.c"
#include "src/lopcodes.c"
#include "src/lmem.c"
#include "src/lundump.c"
#include "src/ldump.c"
#include "src/lstate.c"
#include "src/lgc.c"
#include "src/llex.c"
#include "src/lcode.c"
#include "src/lparser.c"
#include "src/ldebug.c"
#include "src/lfunc.c"
#include "src/lobject.c"
#include "src/ltm.c"
#include "src/lstring.c"
#include "src/ltable.c"
#include "src/ldo.c"
#include "src/lvm.c"
#include "src/lapi.c"

// auxiliary library and standard libraries
#include "src/lauxlib.c"
#include "src/lbaselib.c"
#include "src/lcorolib.c"
#include "src/ldblib.c"
#include "src/liolib.c"
#include "src/lmathlib.c"
#include "src/loadlib.c"
#include "src/loslib.c"
#include "src/lstrlib.c"
#include "src/ltablib.c"
#include "src/lutf8lib.c"
#include "src/linit.c"

// luapool's own additions to the API (need the core's internals)
#include "luapool-ext.c"
