// StateProfile: building the call tree from sampled stacks (see profiler.hpp).
#include "profiler.hpp"

#include <cstring>

namespace luapool {

void StateProfile::start(Clock::time_point t0) {
  std::lock_guard<std::mutex> lock(mutex_);
  on_ = true;
  last_ = t0;
  data_ = Snapshot{};
  children_.clear();
  data_.nodes.push_back(Node{-1, "(root)", "", 0});
}

StateProfile::Snapshot StateProfile::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  on_ = false;
  children_.clear();
  Snapshot out = std::move(data_);
  data_ = Snapshot{};
  if (out.nodes.empty()) out.nodes.push_back(Node{-1, "(root)", "", 0});
  return out;
}

// error path: raises nothing (C++ and Lua's debug reads; LuaState::onInterrupt runs it in a
// cppIsland)
void StateProfile::sample(lua_State* L, const char* entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!on_) return;
  // Frames, innermost first; lua_getinfo with "Sn" allocates no Lua memory.
  lua_Debug frames[kMaxDepth];
  int depth = 0;
  while (depth < kMaxDepth && lua_getstack(L, depth, &frames[depth])) {
    lua_getinfo(L, "Sn", &frames[depth]);
    ++depth;
  }
  int node = 0;
  bool outermost = true;
  for (int i = depth - 1; i >= 0; --i) {  // outermost first, from the root down
    lua_Debug& ar = frames[i];
    bool isC = ar.what[0] == 'C';
    if (!isC && outermost) {
      if (ar.name == nullptr && entry != nullptr && std::strcmp(ar.what, "main") != 0) ar.name = entry;
      outermost = false;
    }
    ChildKey key{node, isC ? 0 : ar.linedefined, isC ? static_cast<const void*>(ar.name) : ar.source};
    auto it = children_.find(key);
    if (it == children_.end()) {  // a new node: only now are its names built
      std::string name;
      if (std::strcmp(ar.what, "main") == 0) {
        name = "(main chunk)";
      } else if (ar.name != nullptr) {
        name = isC ? std::string("[C] ") + ar.name : std::string(ar.name);
      } else {
        name = isC ? "[C] ?" : "function <" + std::string(ar.short_src) + ":" + std::to_string(ar.linedefined) + ">";
      }
      data_.nodes.push_back(Node{node, std::move(name), isC ? std::string() : std::string(ar.short_src), key.line});
      it = children_.emplace(key, static_cast<int>(data_.nodes.size() - 1)).first;
    }
    node = it->second;
  }
  auto now = Clock::now();
  data_.samples.push_back(node);
  data_.deltasUs.push_back(std::chrono::duration<double, std::micro>(now - last_).count());
  last_ = now;
}

}  // namespace luapool
