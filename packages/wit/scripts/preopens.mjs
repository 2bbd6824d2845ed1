// Preload for `node --import`: jco-transpile's type generation runs a WASI
// component on top of preview2-shim, which starts with no preopened
// directories, so reading the WIT files fails with "No such file or directory
// (os error 44)". Expose the host filesystem to it as-is.
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';

_setPreopens({ '/': '/' });
