{
  "variables": {
    "luapool_sources": [
      "native/addon.cpp",
      "native/columns.cpp",
      "native/deliveries.cpp",
      "native/host-call.cpp",
      "native/job.cpp",
      "native/lua-state.cpp",
      "native/modules.cpp",
      "native/profiler.cpp",
      "native/require.cpp",
      "native/runner.cpp",
      "native/sandbox-libs.cpp",
      "native/sandbox.cpp",
      "native/scheduler.cpp",
      "native/shared.cpp",
      "native/testing.cpp",
      "native/value-lua.cpp",
      "native/watchdog.cpp"
    ]
  },
  "targets": [
    {
      "target_name": "lua",
      "type": "static_library",
      "sources": ["deps/lua/lua-all.cpp"],
      "defines": ["LUA_COMPAT_5_3", "LUA_USE_LINUX"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-O2", "-fomit-frame-pointer", "-w"],
      "direct_dependent_settings": {
        "include_dirs": ["deps/lua/src"],
        "defines": ["LUA_COMPAT_5_3", "LUA_USE_LINUX"]
      }
    },
    {
      "target_name": "luapool",
      "dependencies": ["lua"],
      "sources": ["<@(luapool_sources)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-Wl,--exclude-libs,ALL"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
