// StateProfile: stack samples of one state, for runner.profile(). No hook is installed:
// the scheduler's profile tick raises the interrupt flag of every state running Lua, and
// the interrupt handler (LuaState::onInterrupt) records the running coroutine's stack here.
// Samples build a call tree whose nodes are (parent, function) pairs, as in Chrome's
// .cpuprofile format, which lib/profile.ts writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "lua-api.hpp"

namespace luapool {

class StateProfile {
 public:
  using Clock = std::chrono::steady_clock;

  struct Node {
    int parent;        // -1 for the root
    std::string name;  // function name ("(root)", "(main chunk)", "f", "[C] sort", ...)
    std::string url;   // chunk name (short_src), "" for the root and C functions
    int line;          // line where the function is defined (1-based; 0 unknown)
  };
  struct Snapshot {
    std::vector<Node> nodes;      // nodes[0] is the root
    std::vector<int32_t> samples; // node of each sample (the innermost frame)
    std::vector<double> deltasUs; // microseconds since the previous sample (or the start)
  };

  void start(Clock::time_point t0);
  // Called by the thread running the state, inside the interrupt handler. `entry` names
  // the outermost Lua function when Lua cannot (a module function called by call()).
  void sample(lua_State* L, const char* entry);
  // Ends sampling and hands the samples over (any thread).
  Snapshot stop();

 private:
  static constexpr int kMaxDepth = 64;  // innermost frames kept per sample

  std::mutex mutex_;  // guards everything below (the handler holds it for one sample)
  bool on_ = false;
  Clock::time_point last_;
  Snapshot data_;
  // (parent node, function) -> node. A Lua function is its chunk's source (the string Lua
  // keeps for it: one address per chunk) and its line; a C function its name's address.
  struct ChildKey {
    int parent;
    int line;
    const void* id;
    bool operator==(const ChildKey& o) const { return parent == o.parent && line == o.line && id == o.id; }
  };
  struct ChildHash {
    size_t operator()(const ChildKey& k) const {
      return std::hash<const void*>()(k.id) ^ (static_cast<size_t>(k.parent) * 0x9E3779B97F4A7C15ull) ^
             static_cast<size_t>(k.line);
    }
  };
  std::unordered_map<ChildKey, int, ChildHash> children_;
};

}  // namespace luapool
