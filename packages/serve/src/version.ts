import pkg from '../package.json' with { type: 'json' };

/** This package's version, as clients see it in `initialize`. */
export const version: string = pkg.version;
