{
  # Builds the Node-API addon against the local Node headers (npm_config_nodedir=/usr)
  # and links the repository's static library, so the addon needs no rpath.
  # Build the library first: `cargo build --release` at the repository root.
  "variables": {
    "katamari_root%": "<(module_root_dir)/../..",
  },
  "targets": [
    {
      "target_name": "katamari",
      "sources": ["src/binding.c"],
      "include_dirs": ["<(katamari_root)/include"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra"],
      "libraries": [
        "<(katamari_root)/target/release/libkatamari.a",
        "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"
      ],
      "ldflags": [
        # Keep the Rust library's symbols out of the addon's dynamic symbol table.
        "-Wl,--exclude-libs,ALL",
        "-Wl,--gc-sections"
      ]
    }
  ]
}
