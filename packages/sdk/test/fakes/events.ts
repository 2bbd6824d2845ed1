// Stands in for `airlock:plugin/events@0.2.0`: records every publish; a test can refuse topics.
export const published: { topic: string; payload: string }[] = [];
export const refused = new Set<string>();

export function publish(topic: string, payload: string): void {
  if (refused.has(topic)) throw { tag: 'denied', val: `no events grant to publish on \`${topic}\`` };
  published.push({ topic, payload });
}
