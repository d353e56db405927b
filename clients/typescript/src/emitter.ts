// A small typed event emitter (no EventTarget: Node and browsers differ in details).

export type Listener<T> = (value: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Calls `listener` for every `name` event; returns a function that stops it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  /** Calls `listener` for the next `name` event only. */
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const stop = this.on(name, (value) => {
      stop();
      listener(value);
    });
    return stop;
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.get(name)?.delete(listener as Listener<never>);
  }

  protected emit<K extends keyof Events>(name: K, value: Events[K]): void {
    const set = this.listeners.get(name);
    if (set === undefined) {
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (error) {
        // A listener's bug must not break the socket's reader.
        console.error(`gameserver client: a "${String(name)}" listener threw`, error);
      }
    }
  }
}
