// A small corpus with structure to learn (repeated sentences with variations), shared by the training tests
// and the data-parallel rank script so that both sides of a comparison train on the same text.
export function tinyCorpus(): { source: string; text: string }[] {
  const words = ['the cat', 'a dog', 'my bird', 'one fish'];
  const verbs = ['sat on', 'ran past', 'looked at', 'jumped over'];
  return Array.from({ length: 40 }, (_, i) => ({
    source: `doc${i}`,
    text: Array.from({ length: 6 }, (_, j) => `${words[(i + j) % 4]} ${verbs[(i * 3 + j) % 4]} ${words[(i + 2 * j) % 4]}.`).join(' '),
  }));
}
