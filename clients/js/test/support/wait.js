// Polling and event helpers with deadlines, so no test sleeps a fixed time.

// waitFor polls condition (which may be async) every 5 ms until it is true; it
// rejects after timeout ms.
export async function waitFor(condition, timeout, what) {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// nextEvent resolves with the detail of the next `type` event of client whose detail
// matches predicate; it rejects after timeout ms.
export function nextEvent(client, type, timeout, predicate = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      remove();
      reject(new Error(`no ${type} event within ${timeout} ms`));
    }, timeout);
    const remove = client.on(type, (detail) => {
      if (predicate(detail)) {
        clearTimeout(timer);
        remove();
        resolve(detail);
      }
    });
  });
}

// record collects every event of the given types as [type, detail, time] entries.
export function record(client, types) {
  const events = [];
  for (const type of types) {
    client.on(type, (detail) => events.push({ type, detail, at: Date.now() }));
  }
  return events;
}
