// ModuleCatalog: the module sources a runner knows, shared by its states (any thread):
// runner.define() modules, and the `modules` option's sources (its object form, and the
// answers of its function form once the main thread has them). `require` in a job reads
// it without a round trip to the main thread; only a name the function form was never
// asked about needs one (see require.cpp).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "job.hpp"

namespace luapool {

class ModuleCatalog {
 public:
  // What the `modules` option says about a name.
  enum class Answer {
    Source,   // a source (in `source`)
    Missing,  // no such module (an object without the key, or the function said undefined)
    Unknown,  // the function form has not been asked yet: ask the main thread
  };

  // Ids are unique per source text in this runner: compiled chunks are cached by id.
  uint64_t nextId() { return ++ids_; }

  // runner.define(): replaces any earlier version.
  void define(std::shared_ptr<const ModuleSource> mod);
  std::shared_ptr<const ModuleSource> defined(const std::string& name) const;

  // The `modules` option: a function form is asked about names it has no answer for.
  void setFunctionForm(bool on);

  // A source (or, with `source` null, a known miss) for `name`; `answer` marks it as the
  // function form's answer (forget() drops only those).
  void setModule(const std::string& name, std::shared_ptr<const ModuleSource> source, bool answer);
  Answer lookup(const std::string& name, std::shared_ptr<const ModuleSource>& source) const;
  // Drops the function form's answers for `names` (all of them when empty).
  void forget(const std::vector<std::string>& names);

 private:
  struct Entry {
    std::shared_ptr<const ModuleSource> source;  // null: a known miss
    bool answer = false;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const ModuleSource>> defined_;
  std::unordered_map<std::string, Entry> modules_;
  bool functionForm_ = false;
  std::atomic<uint64_t> ids_{0};
};

}  // namespace luapool
