// engine.<name>(...) host functions (see host-call.cpp).
#pragma once

#include <string>
#include <vector>

#include "lua-api.hpp"

namespace luapool {

// Adds engine.<name> for every host function to the table at `engineTable`.
void registerHostFunctions(lua_State* L, int engineTable, const std::vector<std::string>& names);

}  // namespace luapool
