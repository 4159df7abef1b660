// YAML config files read as viper (go-yaml v3) reads them; loaded only when the config file is YAML, so that the
// parser stays out of the startup path of every other run.

import { parseAllDocuments, visit } from 'yaml';
import { resolveYamlPlain } from './file-values.ts';

/**
 * Parses a YAML config file as viper does: the first document only (go-yaml's Unmarshal), `<<` merge keys, plain
 * scalars resolved by resolveYamlPlain. Quoted, block and explicitly tagged scalars keep the parser's value.
 * Throws on a syntax error in the first document or when it is not a mapping.
 */
export function parseWalgYaml(text: string): Record<string, unknown> {
  const doc = parseAllDocuments(text, { merge: true, uniqueKeys: true })[0];
  if (!doc) return {};
  if (doc.errors.length > 0) throw doc.errors[0]!;
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || node.type !== 'PLAIN' || node.tag !== undefined || typeof node.source !== 'string') return;
      node.value = resolveYamlPlain(node.source);
    },
  });
  const js: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (js === null || js === undefined) return {};
  if (typeof js !== 'object' || Array.isArray(js)) throw new Error('the document is not a mapping of settings');
  return js as Record<string, unknown>;
}
