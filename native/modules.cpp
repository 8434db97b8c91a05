// ModuleCatalog (modules.hpp): a mutex around two maps; every lookup copies one pointer.
#include "modules.hpp"

namespace luapool {

void ModuleCatalog::define(std::shared_ptr<const ModuleSource> mod) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string name = mod->name;
  defined_[name] = std::move(mod);
}

std::shared_ptr<const ModuleSource> ModuleCatalog::defined(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = defined_.find(name);
  return it == defined_.end() ? nullptr : it->second;
}

void ModuleCatalog::setFunctionForm(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  functionForm_ = on;
}

void ModuleCatalog::setModule(const std::string& name, std::shared_ptr<const ModuleSource> source,
                              bool answer) {
  std::lock_guard<std::mutex> lock(mutex_);
  modules_[name] = Entry{std::move(source), answer};
}

ModuleCatalog::Answer ModuleCatalog::lookup(const std::string& name,
                                            std::shared_ptr<const ModuleSource>& source) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = modules_.find(name);
  if (it == modules_.end()) {
    source.reset();
    return functionForm_ ? Answer::Unknown : Answer::Missing;
  }
  source = it->second.source;
  return source ? Answer::Source : Answer::Missing;
}

void ModuleCatalog::forget(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (names.empty()) {
    for (auto it = modules_.begin(); it != modules_.end();) {
      it = it->second.answer ? modules_.erase(it) : std::next(it);
    }
    return;
  }
  for (const std::string& name : names) {
    auto it = modules_.find(name);
    if (it != modules_.end() && it->second.answer) modules_.erase(it);
  }
}

}  // namespace luapool
