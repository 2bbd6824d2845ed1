/**
 * The engine of a development build (see `DEV_BUNDLE_INTERFACE` in
 * @airlock/wit): a component that imports everything the plugin's world
 * offers, asks the host for the plugin's bundle on its first call, evaluates
 * it, and forwards each export of the world to what the bundle exports.
 *
 * componentize-js reads the engine's exports while it snapshots the engine
 * (before any bundle exists), so each export is a proxy that hands out a
 * forwarding function for every name asked of it. A resource (an exported
 * class, such as a provider's `ChatStream`) is an engine class whose instances
 * wrap the bundle's: a function's result that is an instance of the bundle's
 * class is wrapped on the way out, and a wrapped argument unwrapped on the way
 * in. Resources our contract passes are returned or passed directly; one
 * nested in a list or record would not be wrapped (none is).
 */
import { DEV_BUNDLE_INTERFACE } from '@airlock/wit';

/** Bump when the engine's source changes in a way its text does not show (it is part of the cache key anyway). */
const ENGINE_FORMAT = 1;

/** The file name the engine's own frames carry (`forward/get/<@airlock-dev-engine.js:80:41`): not the plugin's code. */
export const ENGINE_FILE = 'airlock-dev-engine.js';

/** The file name the bundle's frames carry (`plugin.js:LINE:COL`), as in a release build, so the host maps them to sources. */
export const BUNDLE_FILE = 'plugin.js';

/**
 * The interfaces a contract's `host` world imports (`log`, `storage`, …), read
 * from its `worlds.wit`: the engine imports each, so that the bundle can use
 * whichever it does.
 */
export function hostInterfacesOf(worldsWit: string): string[] {
  const body = /\bworld\s+host\s*\{([^}]*)\}/.exec(worldsWit)?.[1];
  if (body === undefined) throw new Error('the contract has no `world host`');
  return [...body.matchAll(/\bimport\s+([a-z][a-z0-9-]*)\s*;/g)].map((m) => m[1]!);
}

export interface EngineWorld {
  /** Every interface the engine imports, versioned (`airlock:plugin/log@0.2.0`, `wasi:cli/environment@0.2.12`, `acme:kb/search@1.0.0`), without the dev interface. */
  imports: readonly string[];
  /** The export names of the world in JS (`tool`, `lifecycle`). */
  exports: readonly string[];
}

/** The engine's JavaScript for a world. */
export function engineSource(world: EngineWorld): string {
  const imports = [...world.imports].sort();
  return [
    `// airlock-plugin development engine, format ${ENGINE_FORMAT}. Generated; see dev-engine.ts in @airlock/plugin-kit.`,
    `import { source } from ${JSON.stringify(DEV_BUNDLE_INTERFACE)};`,
    ...imports.map((id, i) => `import * as i${i} from ${JSON.stringify(id)};`),
    `const modules = new Map([${imports.map((id, i) => `[${JSON.stringify(id)}, i${i}]`).join(', ')}]);`,
    `const INNER = Symbol('airlock.inner');`,
    `let loaded;`,
    `function bundle() {`,
    `  if (loaded === undefined) {`,
    `    try {`,
    `      const module = { exports: {} };`,
    `      const require = (name) => {`,
    `        const found = modules.get(name);`,
    `        if (found === undefined) throw new Error('the plugin imports ' + name + ', which its world does not: name it in "capabilities.interfaces" of the manifest and put its WIT in wit/');`,
    `        return found;`,
    `      };`,
    // Indirect eval, the body on the wrapper's first line: the bundle's lines keep their numbers, and its frames read plugin.js.
    `      const run = (0, eval)('(function (require, module, exports) {' + source() + '\\n})\\n//# sourceURL=${BUNDLE_FILE}');`,
    `      run(require, module, module.exports);`,
    `      loaded = { exports: module.exports };`,
    `    } catch (error) {`,
    `      loaded = { error };`,
    `    }`,
    `  }`,
    `  if ('error' in loaded) throw loaded.error;`,
    `  return loaded.exports;`,
    `}`,
    `function resource(name) {`,
    `  class Resource {`,
    `    constructor(inner) { this[INNER] = inner; }`,
    `  }`,
    `  Object.setPrototypeOf(Resource.prototype, new Proxy({}, {`,
    `    get(_, key, receiver) {`,
    `      if (receiver === null || typeof receiver !== 'object' || !(INNER in receiver)) {`,
    `        return function (...args) { return this[INNER][key](...args); };`,
    `      }`,
    `      const inner = receiver[INNER];`,
    `      const value = inner[key];`,
    `      return typeof value === 'function' ? value.bind(inner) : value;`,
    `    },`,
    `  }));`,
    `  Object.defineProperty(Resource, 'name', { value: name });`,
    `  return Resource;`,
    `}`,
    `function forward(iface) {`,
    `  const classes = new Map();`,
    `  const wrap = (value) => {`,
    `    if (value === null || typeof value !== 'object') return value;`,
    `    const exported = bundle()[iface];`,
    `    for (const [name, Resource] of classes) if (typeof exported[name] === 'function' && value instanceof exported[name]) return new Resource(value);`,
    `    return value;`,
    `  };`,
    `  const unwrap = (value) => (value !== null && typeof value === 'object' && INNER in value ? value[INNER] : value);`,
    `  const made = new Map();`,
    `  return new Proxy({}, {`,
    `    get(_, key) {`,
    `      if (typeof key !== 'string') return undefined;`,
    `      if (!made.has(key)) {`,
    `        if (/^[A-Z]/.test(key)) {`,
    `          const Resource = resource(key);`,
    `          classes.set(key, Resource);`,
    `          made.set(key, Resource);`,
    `        } else {`,
    `          made.set(key, (...args) => {`,
    `            let exported;`,
    `            try {`,
    `              exported = bundle()[iface];`,
    `            } catch (error) {`,
    // What a release build reports while componentizing: the init hook (the host's first call) fails the load with it; any other call traps, the error on stderr.
    `              const message = 'the plugin could not start: ' + (error instanceof Error ? error.message : String(error));`,
    `              if (iface === 'lifecycle' && key === 'init') throw message;`,
    `              console.error(message + (error instanceof Error && error.stack ? '\\n' + error.stack : ''));`,
    `              throw error;`,
    `            }`,
    `            if (exported === undefined || typeof exported[key] !== 'function') throw new Error('the plugin does not export ' + iface + '.' + key);`,
    `            const result = exported[key](...args.map(unwrap));`,
    `            return result !== null && typeof result === 'object' && typeof result.then === 'function' ? result.then(wrap) : wrap(result);`,
    `          });`,
    `        }`,
    `      }`,
    `      return made.get(key);`,
    `    },`,
    `  });`,
    `}`,
    ...world.exports.map((name) => `export const ${name} = forward(${JSON.stringify(name)});`),
    '',
  ].join('\n');
}
