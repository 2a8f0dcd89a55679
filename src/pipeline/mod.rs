//! The build: config → bundles → model → encoders → `build/`.
