// Row views for callColumns: a Lua table `e` whose fields are the elements of one row of
// typed arrays lent by JavaScript. One view per job, reused for every row: the row
// changes, the object does not, and nothing is allocated per row.
//
// How: a Lua loop (compiled once per state and way of passing the extra arguments) does
//     get(first)                 -- one C call: e's fields = the row's elements
//     for row = first, last do
//       fn(e, ...)               -- the behaviour: plain table reads and writes
//       put(row)                 -- one C call: stores the written columns, checks the
//     end                        -- read-only ones, fills e with row + 1
// so the behaviour's own `e.x` and `e.x = v` are ordinary table accesses, as fast as on
// any table, and a row costs one C call. The C calls move the whole row between the arrays
// and e's slots (luapool_setrow / luapool_getrow, lua-api.hpp) with no lookup per field:
// each field's slot in e is cached and checked on use. The view's metatable makes a field
// that is not a column an error at once; a non-number, or a change to a read-only column,
// is an error when the row's call returns.
#pragma once

#include <cstdint>
#include <string>

#include "job.hpp"
#include "lua-api.hpp"

namespace luapool {

// Inserts the loop for the job's columns and arguments (compiled once per state and
// signature) below fn, which must be at the top, and pushes the loop's other arguments;
// returns how many arguments the loop takes (fn included). Records the view in job.viewRef. Raises on memory errors (call it in
// a protected call).
int pushColumnsCall(lua_State* L, Job& job);

// The row the job's view is on (its failing row, after an error), or -1.
int64_t rowViewRow(lua_State* L, const Job& job);

// The job is over: its view is emptied and stops reading or writing the arrays (a script
// may have kept it), and the registry ref is dropped.
void endRowView(lua_State* L, Job& job);

// Element conversions, as JavaScript typed arrays do them (exposed for tests):
// integers wrap modulo 2^bits; floats are truncated toward zero first (NaN, ±Infinity → 0);
// Float32 rounds to nearest (overflow → ±Infinity).
void storeInteger(void* data, size_t index, ElementType type, lua_Integer v);
void storeNumber(void* data, size_t index, ElementType type, lua_Number v);

}  // namespace luapool
