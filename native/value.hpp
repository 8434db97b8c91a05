// The native value tree: values crossing threads are encoded on one side (JS on the main
// thread, Lua on a worker) into a compact byte string and decoded on the other. Only plain
// bytes cross threads; V8 is never touched off the main thread. lib/marshal.ts implements
// the JavaScript half of the same format.
//
// Layout: [u8 flags][u32 count] value*          flags bit 0: the tree holds REF nodes
//   value := NIL | FALSE | TRUE | INT i64 | INT32 i32 | FLOAT f64 | STR u32 bytes
//          | SEQ u32 value*              (a table with keys 1..n)
//          | TABLE u32 (key value)*      (any other table)
//          | REF u32                     (the n-th SEQ/TABLE of this tree, in order of appearance)
// All integers are little-endian.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace luapool {

enum Tag : uint8_t {
  kTagNil = 0,
  kTagFalse = 1,
  kTagTrue = 2,
  kTagInt = 3,
  kTagFloat = 4,
  kTagStr = 5,
  kTagSeq = 6,
  kTagTable = 7,
  kTagRef = 8,
  kTagInt32 = 9,  // an integer that fits in 32 bits (the common case, half the bytes)
};

constexpr uint8_t kFlagHasRefs = 1;
constexpr int kValueFormat = 2;  // bump on any change; lib/native.ts must match
constexpr size_t kHeaderSize = 5;

// Limits that keep a hostile value from exhausting the host.
struct MarshalLimits {
  uint32_t maxDepth = 200;             // nested tables
  size_t maxBytes = 64u << 20;         // encoded size
};

class ValueWriter {
 public:
  explicit ValueWriter(std::string& out) : out_(out) {}
  void header(uint8_t flags, uint32_t count) {
    out_.push_back(static_cast<char>(flags));
    u32(count);
  }
  void tag(Tag t) { out_.push_back(static_cast<char>(t)); }
  void u32(uint32_t v) { raw(&v, 4); }
  void i64(int64_t v) { raw(&v, 8); }
  void i32(int32_t v) { raw(&v, 4); }
  void f64(double v) { raw(&v, 8); }
  void bytes(const char* s, size_t n) {
    u32(static_cast<uint32_t>(n));
    out_.append(s, n);
  }
  size_t size() const { return out_.size(); }
  std::string& buffer() { return out_; }
  void patchU32(size_t at, uint32_t v) { std::memcpy(&out_[at], &v, 4); }

 private:
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

class ValueReader {
 public:
  ValueReader(const char* data, size_t size) : p_(data), end_(data + size) {}
  bool has(size_t n) const { return static_cast<size_t>(end_ - p_) >= n; }
  uint8_t u8() { return static_cast<uint8_t>(*p_++); }
  uint32_t u32() { uint32_t v; std::memcpy(&v, p_, 4); p_ += 4; return v; }
  int64_t i64() { int64_t v; std::memcpy(&v, p_, 8); p_ += 8; return v; }
  int32_t i32() { int32_t v; std::memcpy(&v, p_, 4); p_ += 4; return v; }
  double f64() { double v; std::memcpy(&v, p_, 8); p_ += 8; return v; }
  const char* take(size_t n) { const char* s = p_; p_ += n; return s; }
  bool atEnd() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace luapool
