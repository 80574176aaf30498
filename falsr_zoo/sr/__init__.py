"""The super-resolution application: upscaling (tiles, colour paths, photos, folders), evaluation
with the release's protocol, and benchmarks of the whole upscale."""
