// Row views for callColumns: a Lua table `e` whose fields are the elements of one row of
// typed arrays lent by JavaScript. One view per job, reused for every row: the row
// changes, the object does not, and nothing is allocated per row.
//
// How: a Lua loop generated for the job's set of columns (compiled once per state, column
// set and read-only set) does, per row,
//     e.x, e.y, ... = v1, v2, ...            -- the row's elements, into the view
//     fn(e, ...)                             -- the behaviour: plain table reads and writes
//     v1, v2, ... = put(row, e.x, e.y, ...)  -- one C call: stores the written columns,
//                                            -- checks the read-only ones, returns row + 1's
// so the behaviour's own `e.x` and `e.x = v` are ordinary table accesses, as fast as on
// any table, and a row costs one C call. The elements move between the arrays and the
// stack through luapool_pushrow / luapool_readnumbers (lua-api.hpp), with no API call per
// element. Sets of more than 60 columns (too many locals) use one get and one put call
// per group of 32 columns instead. The view's metatable makes a field that is not a
// column an error at once; a non-number, or a change to a read-only column, is an error
// when the row's call returns.
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
