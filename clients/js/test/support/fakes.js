// Deterministic stand-ins for unit tests: a clock whose time moves only when the test
// says so, and a WebSocket class whose peer is the test.

// FakeTimers implements the client's `timers` option on a virtual clock.
export class FakeTimers {
  now = 0;
  #next = 1;
  #pending = new Map();

  setTimeout = (callback, milliseconds) => {
    const handle = this.#next++;
    this.#pending.set(handle, { callback, at: this.now + milliseconds });
    return handle;
  };

  clearTimeout = (handle) => {
    this.#pending.delete(handle);
  };

  // pending returns how many timers are scheduled.
  get pending() {
    return this.#pending.size;
  }

  // advance moves the clock by milliseconds, running every timer that falls due, in
  // order of their due times.
  advance(milliseconds) {
    const end = this.now + milliseconds;
    for (;;) {
      let earliest = null;
      for (const [handle, timer] of this.#pending) {
        if (timer.at <= end && (earliest === null || timer.at < earliest[1].at)) {
          earliest = [handle, timer];
        }
      }
      if (earliest === null) {
        break;
      }
      this.#pending.delete(earliest[0]);
      this.now = earliest[1].at;
      earliest[1].callback();
    }
    this.now = end;
  }
}

// fakeWebSocketClass returns a WebSocket class whose instances are listed in
// `instances`; the test opens them, delivers messages and closes them.
export function fakeWebSocketClass() {
  return class FakeWebSocket {
    static instances = [];
    readyState = 0;
    sent = [];
    closedWith = null;
    onopen = null;
    onmessage = null;
    onerror = null;
    onclose = null;

    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      FakeWebSocket.instances.push(this);
    }

    send(text) {
      if (this.readyState !== 1) {
        throw new Error(`send in readyState ${this.readyState}`);
      }
      this.sent.push(text);
    }

    close(code, reason) {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }

    // open completes the handshake.
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }

    // receive delivers a server message (an object is encoded as JSON).
    receive(message) {
      this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
    }

    // serverClose ends the connection with code and reason.
    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  };
}
