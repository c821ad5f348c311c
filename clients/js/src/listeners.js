/**
 * Event listeners by event type, shared by the client and its subscriptions. A
 * listener that throws does not stop the others: its error is rethrown in a
 * microtask, where the page or process reports it as uncaught.
 */
export class Listeners {
  #byType = new Map();

  /**
   * Adds listener for events of type.
   * @param {string} type
   * @param {(detail: any) => void} listener
   * @returns {() => void} a function that removes the listener
   */
  on(type, listener) {
    if (!this.#byType.has(type)) {
      this.#byType.set(type, new Set());
    }
    this.#byType.get(type).add(listener);
    return () => this.off(type, listener);
  }

  /**
   * Removes a listener added with `on`.
   * @param {string} type
   * @param {(detail: any) => void} listener
   */
  off(type, listener) {
    this.#byType.get(type)?.delete(listener);
  }

  /**
   * Calls every listener of type with detail, in the order they were added; a
   * listener added or removed meanwhile takes effect from the next event.
   * @param {string} type
   * @param {unknown} [detail]
   */
  emit(type, detail) {
    for (const listener of [...(this.#byType.get(type) ?? [])]) {
      try {
        listener(detail);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
