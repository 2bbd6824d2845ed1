/**
 * The host-call router: where a plugin's calls to the host interfaces go.
 * Each instance gets one, bound to its plugin's grants: storage in the
 * plugin's namespace and quota, HTTP through the plugin's broker (responses
 * named by the instance, so they close with its worker), credentials from
 * the auth plugins it was granted. `log`, `config` and `progress` never
 * leave the plugin's thread (see sandbox/worker.ts).
 */
import type { HostCall, HostReply } from './sandbox/protocol.js';
import type { TraceContext } from './tracing.js';

export interface HostCallRoutes {
  storage(fn: string, args: unknown[], current: string | undefined): HostReply | Promise<HostReply>;
  /** `scope` is the running call's scope (a chat stream's), `owner` names the instance; `current` is the call it happens in (for the audit log). */
  http(fn: string, args: unknown[], owner: object, scope: object | undefined, current: string | undefined, trace: TraceContext | undefined): Promise<HostReply>;
  /** `fn` is `getToken` or `signedIn`. */
  credentials(fn: string, authPlugin: unknown, current: string | undefined): Promise<HostReply>;
  /** `events.publish`; `scope` says how many publishes led to the running call. */
  events(args: unknown[], scope: object | undefined, current: string | undefined): HostReply;
  /** A function of an interface the integrator added: `fn` is `<interface id>#<function>`. */
  iface(fn: string, args: unknown[], current: string | undefined): Promise<HostReply>;
}

/** Serve one instance's host calls; `owner` names what the instance opened. */
export function hostCallRouter(
  routes: HostCallRoutes,
  owner: object,
): (call: HostCall, scope: object | undefined, current: string | undefined, trace: TraceContext | undefined) => HostReply | Promise<HostReply> {
  return (call, scope, current, trace) => {
    switch (call.iface) {
      case 'storage':
        return routes.storage(call.fn, call.args, current);
      case 'http':
        return routes.http(call.fn, call.args, owner, scope, current, trace);
      case 'credentials':
        return routes.credentials(call.fn, call.args[0], current);
      case 'events':
        return routes.events(call.args, scope, current);
      case 'iface':
        return routes.iface(call.fn, call.args, current);
      default:
        return { err: { tag: 'internal', val: `unknown host interface ${call.iface}` } };
    }
  };
}
