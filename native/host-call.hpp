// engine.<name>(...) host functions (see host-call.cpp).
#pragma once

#include <string>
#include <vector>

#include "lua-api.hpp"

namespace luapool {

// Adds engine.<name> for every host function to the table at `engineTable`.
void registerHostFunctions(lua_State* L, int engineTable, const std::vector<std::string>& names);

// The host "function" index of an internal request: the `modules` option's function form
// is asked for a module's source (require.cpp). Its args are the module name's bytes.
constexpr uint32_t kModuleLookupFunction = 0xFFFFFFFFu;

// An internal host call from a C function of the running job: sends `function` with `args`
// to the main thread. Where Lua can yield (the job's own coroutine), the job suspends and
// `k` runs when it is resumed with the answer; elsewhere the worker thread waits for the
// answer and `k` is called at once. Either way `k` calls hostRoundTripReply() first.
// (`args` is copied before anything can raise: no std::string in the caller's frame.)
int hostRoundTrip(lua_State* L, uint32_t function, const char* args, size_t len, lua_KFunction k,
                  lua_KContext ctx);
// In `k`: raises if the job was killed while waiting, or if the main thread answered with
// an error (its message); else returns the answer.
struct HostReply;
const HostReply& hostRoundTripReply(lua_State* L);

}  // namespace luapool
