/**
 * The walls' aliases for the owner's dashboard: looked up in the Lightning graph once per wall (node key) when a
 * session with it starts, and kept in the vehicle store so the dashboard shows them offline.
 *
 * An alias is what the wall's operator announced: shown to a person next to the node key, never trusted or used
 * for any decision. A found alias is stored and never asked again; a wall the graph does not know is asked again
 * only after the daemon restarts; a failed lookup (node unreachable) is asked again at the wall's next session.
 */
import type { Logger } from '../daemon/logger.js';
import type { LightningNode } from '../lightning/lightning-node.js';
import type { VehicleStore } from './store.js';

/** Control characters (C0, DEL, C1) and bidirectional overrides, removed from an alias before it is stored. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Looks up and caches wall aliases. */
export class WallAliases {
  /** walls asked in this run whose alias was not found */
  private readonly notFound = new Set<string>();
  /** lookups in progress, by node key */
  private readonly pending = new Map<string, Promise<string | null>>();

  /**
   * @param store where aliases are kept (`saveWallAlias` / `wallAlias`)
   * @param node the owner's node (`getNodeAlias`, bounded by its call timeout)
   * @param log where failed lookups are reported (debug: an alias is a convenience)
   */
  constructor(
    private readonly store: Pick<VehicleStore, 'wallAlias' | 'saveWallAlias'>,
    private readonly node: Pick<LightningNode, 'getNodeAlias'>,
    private readonly log: Logger,
  ) {}

  /**
   * The wall's alias: the stored one, else asked from the node (once per wall while the lookup is not found).
   * Never throws: a failed lookup resolves to null and is logged.
   *
   * @param wallPub the wall's node key, hex
   * @returns the alias, or null when none is known
   */
  lookup(wallPub: string): Promise<string | null> {
    const key = wallPub.toLowerCase();
    const stored = this.store.wallAlias(key);
    if (stored !== undefined) return Promise.resolve(stored);
    if (this.notFound.has(key)) return Promise.resolve(null);
    const running = this.pending.get(key);
    if (running) return running;
    const p = this.ask(key).finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  private async ask(key: string): Promise<string | null> {
    try {
      const raw = await this.node.getNodeAlias(key);
      const alias = raw === null ? '' : raw.replace(UNPRINTABLE, '').trim();
      if (alias === '') {
        this.notFound.add(key);
        return null;
      }
      this.store.saveWallAlias(key, alias);
      return alias;
    } catch (err) {
      this.log.debug('wall alias lookup failed', { wallPub: key, error: (err as Error).message });
      return null;
    }
  }
}
