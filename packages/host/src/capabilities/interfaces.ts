/**
 * Interfaces an integrator adds to the host (`createHost({ interfaces })`):
 * an application's own WIT interfaces (a knowledge base, a command palette)
 * that plugins import like the host's. A plugin may use one only when its
 * manifest asks for it (`capabilities.interfaces`) and the user grants it; a
 * component importing an interface this host does not offer is refused at
 * load, naming it. Calls reach the integrator's functions on the host thread,
 * with the values jco gives for the WIT types and the calling plugin's id.
 */
import { AirlockError } from '../errors.js';
import { INTERFACE_ID, isOwnPackage } from '../manifest.js';
import { unversioned, type HostReply } from '../sandbox/protocol.js';
import { withEntry, withoutEntries, type CapabilitySpec } from './spec.js';

/** What the integrator's functions get besides the WIT arguments. */
export interface InterfaceCallContext {
  /** The plugin making the call. */
  plugin: string;
}

/**
 * The functions of one interface, by their JavaScript names (`get-item` is
 * `getItem`), taking the WIT arguments as jco gives them and then the call's
 * context. Return the value (or a promise of it); for a function returning
 * `result<T, E>`, throw the `E` value to return the error case. An `Error`
 * thrown is logged, and fails the plugin's call.
 */
export type HostInterface = Record<string, (...args: any[]) => unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any

export { unversioned };

export const interfacesCapability: CapabilitySpec<'interfaces'> = {
  name: 'interfaces',
  form: 'interfaces <namespace:package/interface>',
  items: (ids) => ids.map((id) => ({ capability: 'interfaces', id })),
  covers: (granted, item) => granted?.includes(item.id) ?? false,
  add: (granted, item) => withEntry(granted, item.id),
  remove: (granted, item) => withoutEntries(granted, (id) => id === item.id),
  parse: (value) => (value !== undefined && INTERFACE_ID.test(value) && !isOwnPackage(value) ? { capability: 'interfaces', id: value } : { problem: `\`${value}\` is not an interface id such as acme:kb/search` }),
  describe: (item) => `interfaces ${item.id}`,
  show: (item) => ({ value: `use the host's ${item.id}`, risky: true }),
};

/** The `interfaces` option, checked: HOST_OPTIONS_INVALID naming what is wrong. Keyed by unversioned id. */
export function hostInterfaces(given: Record<string, HostInterface> | undefined): ReadonlyMap<string, HostInterface> {
  const map = new Map<string, HostInterface>();
  for (const [id, functions] of Object.entries(given ?? {})) {
    const key = unversioned(id);
    const problem = !INTERFACE_ID.test(key)
      ? 'is not an interface id such as acme:kb/search'
      : isOwnPackage(key)
        ? 'is one of the host\'s own packages'
        : typeof functions !== 'object' || functions === null || Object.values(functions).some((f) => typeof f !== 'function')
          ? 'must map function names to functions'
          : undefined;
    if (problem) throw new AirlockError('HOST_OPTIONS_INVALID', `interfaces: \`${id}\` ${problem}`, { hint: 'Pass e.g. `interfaces: { "acme:kb/search": { query: (text, { plugin }) => … } }`.' });
    map.set(key, functions);
  }
  return map;
}

/** The imports of a component that are an integrator's interfaces (neither `airlock:` nor `wasi:`). */
export const integratorImports = (imports: readonly string[]): string[] => imports.filter((name) => !isOwnPackage(name));

/** Refuse a plugin whose component imports an offered interface its capabilities do not name. */
export function checkInterfaceGrants(pluginId: string, imports: readonly string[], granted: readonly string[] | undefined): void {
  const missing = integratorImports(imports).map(unversioned).filter((id) => !granted?.includes(id));
  if (missing.length === 0) return;
  throw new AirlockError('CAPABILITY_NOT_GRANTED', `plugin \`${pluginId}\` imports ${missing.join(', ')}, which its capabilities do not name`, {
    plugin: pluginId,
    hint: `List it in "capabilities.interfaces" of the manifest (${missing.map((id) => JSON.stringify(id)).join(', ')}), and have the user grant it.`,
  });
}

/** Serve a call `<id>#<function>` from plugin `pluginId`, which holds `granted`, with the integrator's `offered` functions. */
export async function serveInterfaceCall(
  offered: ReadonlyMap<string, HostInterface>,
  pluginId: string,
  granted: readonly string[] | undefined,
  fn: string,
  args: unknown[],
  log: (message: string) => void,
): Promise<HostReply & { outcome: 'allowed' | 'refused'; target: string; action: string }> {
  const at = fn.lastIndexOf('#');
  const id = unversioned(fn.slice(0, at));
  const name = fn.slice(at + 1);
  const impl = offered.get(id)?.[name];
  if (!granted?.includes(id) || typeof impl !== 'function') {
    return { err: `plugin \`${pluginId}\` may not call ${id}#${name}`, outcome: 'refused', target: id, action: name };
  }
  try {
    return { ok: await impl(...args, { plugin: pluginId } satisfies InterfaceCallContext), outcome: 'allowed', target: id, action: name };
  } catch (err) {
    if (err instanceof Error) log(`${id}#${name} threw for \`${pluginId}\`: ${err.message}`);
    return { err: err instanceof Error ? err.message : err, outcome: 'allowed', target: id, action: name };
  }
}
