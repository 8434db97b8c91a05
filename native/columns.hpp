// Row views for callColumns: a Lua object `e` whose fields are the elements of one row of
// typed arrays lent by JavaScript. Reading `e.x` reads columns.x[row], `e.x = v` writes it
// (converted to the element type like a JavaScript typed-array assignment). One view per
// job, reused for every row: the row changes, the object does not.
#pragma once

#include <cstdint>

#include "job.hpp"
#include "lua-api.hpp"

namespace luapool {

// Pushes a new row view over job.columns (positioned before job.firstRow), records it in
// job.viewRef, and pushes the function that advances it: `nextrow(view)` moves to the
// next row and returns false once job.firstRow + job.rowCount is reached. Raises on
// memory errors (call it in a protected call).
void pushRowView(lua_State* L, Job& job);

// The row the job's view is on (its failing row, after an error), or -1.
int64_t rowViewRow(lua_State* L, const Job& job);

// The job is over: its view stops reading or writing the arrays (a script may have kept
// it), and the registry ref is dropped.
void endRowView(lua_State* L, Job& job);

// Element conversions, as JavaScript typed arrays do them (exposed for tests):
// integers wrap modulo 2^bits; floats are truncated toward zero first (NaN, ±Infinity → 0);
// Float32 rounds to nearest (overflow → ±Infinity).
void storeInteger(void* data, size_t index, ElementType type, lua_Integer v);
void storeNumber(void* data, size_t index, ElementType type, lua_Number v);

}  // namespace luapool
