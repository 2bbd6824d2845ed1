/**
 * `airlock chat` and `airlock models`: talk to a provider plugin, with the
 * loaded tool plugins' tools on offer.
 */
import { AirlockError, type ChatLoopOptions, type ChatLoopOutcome, type ChatMessage, type ChatRequest, type Host } from '@airlock/host';
import { numberOption, type Args } from './args.js';
import { CliError, UsageError, clock, startSpinner, table, truncate, type Ui } from './output.js';
import { interruptible } from './session.js';

/** What `airlock chat` shows of a conversation as it goes. */
type ChatCallbacks = Pick<ChatLoopOptions, 'onEvent' | 'onToolCall' | 'onToolResult'>;

/** The prompt: the positionals joined, or standard input for `-`. */
export async function readPrompt(positionals: string[], ui: Ui): Promise<string> {
  const prompt = positionals.length === 1 && positionals[0] === '-' ? await ui.io.readStdin() : positionals.join(' ');
  if (prompt.trim() === '') throw new UsageError('give a prompt: airlock chat "<prompt>" (or - to read it from stdin)');
  return prompt;
}

/** The request the flags describe, for a prompt still to be read; the flags are checked now. */
export function chatRequest(args: Args): (prompt: string) => ChatRequest {
  const { values } = args;
  const maxTokens = numberOption('max-tokens', values['max-tokens'], { integer: true, min: 1 });
  const temperature = numberOption('temperature', values.temperature, { min: 0, max: 2 });
  const system: ChatMessage[] = values.system ? [{ role: 'system', content: values.system }] : [];
  return (prompt) => ({ provider: values.provider, model: values.model, messages: [...system, { role: 'user', content: prompt }], maxTokens, temperature });
}

export async function chat(host: Host, ui: Ui, request: ChatRequest, offerTools: boolean): Promise<number> {
  const waiting = waitingSpinner(ui);
  if (!ui.json) waiting.start();
  try {
    const callbacks = ui.json ? jsonCallbacks(ui) : humanCallbacks(ui, waiting);
    const outcome = await interruptible(ui, (signal) =>
      host.chatWithTools(request, { ...callbacks, signal, tools: offerTools }).catch((err: unknown) => {
        // The host's hint speaks to integrators (maxRounds); a person at the command line has a flag.
        if (AirlockError.isInstance(err) && err.code === 'TOOL_ROUNDS_EXCEEDED') throw new CliError(err.code, err.message, 'Ask for something that needs fewer tool calls, or pass --no-tools.');
        throw err;
      }),
    );
    if (!ui.json) summarize(ui, outcome);
    return 0;
  } finally {
    waiting.stop();
  }
}

/** "Thinking…" on a terminal while no answer is streaming: before the first event, and while tools run. */
function waitingSpinner(ui: Ui): { start: () => void; stop: () => void } {
  let stop = () => {};
  return {
    start: () => {
      stop();
      stop = startSpinner(ui, (elapsed) => `Thinking… ${clock(elapsed)}`);
    },
    stop: () => {
      stop();
      stop = () => {};
    },
  };
}

/** Every event as one NDJSON line. */
function jsonCallbacks(ui: Ui): ChatCallbacks {
  return {
    onEvent: (event) => ui.event(event),
    onToolCall: (call) => ui.event({ event: 'tool-call', ...call }),
    onToolResult: (result) => ui.event({ event: 'tool-result', ...result }),
  };
}

/** Text to stdout as it arrives; tool calls and their results to stderr. */
function humanCallbacks(ui: Ui, waiting: ReturnType<typeof waitingSpinner>): ChatCallbacks {
  return {
    onEvent: (event) => {
      waiting.stop();
      if (event.type === 'text-delta') ui.print(event.text);
    },
    onToolCall: (call) => {
      ui.endLine();
      const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
      ui.log(`${ui.err.dim('→')} ${ui.err.bold(call.name)} ${ui.err.dim(truncate(args))}`);
      waiting.start();
    },
    onToolResult: (result) => {
      const shown = 'error' in result ? ui.err.red(`${result.error.code}: ${result.error.message}`) : ui.err.dim(truncate(JSON.stringify(result.result) ?? 'null'));
      ui.log(`${ui.err.dim('←')} ${shown}`);
    },
  };
}

/** The closing line on stderr: usage and finish reason, and a note on redacted secrets. */
function summarize(ui: Ui, outcome: ChatLoopOutcome): void {
  ui.endLine();
  const parts = [
    ...(outcome.usage ? [`${outcome.usage.promptTokens} prompt + ${outcome.usage.completionTokens} completion tokens`] : []),
    outcome.finishReason,
    ...(outcome.rounds > 1 ? [`${outcome.rounds} rounds`] : []),
  ];
  ui.log(ui.err.dim(parts.join(' · ')));
  if (outcome.finishReason === 'length') ui.log(ui.err.yellow('note: the answer was cut short (--max-tokens or the model\'s limit)'));
  if (outcome.redactions > 0) {
    const n = outcome.redactions;
    ui.log(ui.err.yellow(`note: ${n} secret${n === 1 ? ' was' : 's were'} replaced with a marker before the request was sent`));
  }
}

export async function models(host: Host, ui: Ui, provider: string | undefined): Promise<number> {
  const list = await host.models(provider);
  if (ui.json) {
    ui.print(`${JSON.stringify(list)}\n`);
    return 0;
  }
  const features = (f: Record<string, boolean>) => Object.keys(f).filter((k) => f[k]).join(', ') || '-';
  ui.print(table(['MODEL', 'PROVIDER', 'FEATURES'], list.map((m) => [m.id, m.provider, features(m.features)])));
  return 0;
}
