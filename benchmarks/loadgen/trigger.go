package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// errNoConnection is returned by a client trigger whose connection is gone.
var errNoConnection = errors.New("trigger: no open connection")

// trigger makes the server under test broadcast a content to every connection.
type trigger interface {
	send(content []byte) error
	close()
}

// clientTrigger sends {"type":"broadcast","content":...} over one extra WebSocket
// connection of its own, which the seed, the baseline, the bare server and wsgate
// all understand; the sender does not receive its own broadcast.
type clientTrigger struct{ fleet *localFleet }

func newClientTrigger(target *url.URL, dialTimeout time.Duration) (*clientTrigger, error) {
	fleet, err := newLocalFleet(localConfig{target: target, concurrency: 1, dialTimeout: dialTimeout})
	if err != nil {
		return nil, err
	}
	if report := fleet.Grow(1); report.Connected != 1 {
		fleet.Close()
		return nil, fmt.Errorf("trigger: %s", report.FirstError)
	}
	return &clientTrigger{fleet: fleet}, nil
}

func (t *clientTrigger) send(content []byte) error { return t.fleet.send(wrap(content)) }

func (t *clientTrigger) close() { t.fleet.Close() }

// apiTrigger posts {"message":content} to the server's POST /api/v1/broadcast.
type apiTrigger struct {
	endpoint string
	client   *http.Client
}

func newAPITrigger(base string) *apiTrigger {
	return &apiTrigger{endpoint: base + "/api/v1/broadcast", client: &http.Client{Timeout: 30 * time.Second}}
}

func (t *apiTrigger) send(content []byte) error {
	body := make([]byte, 0, len(content)+16)
	body = append(append(append(body, `{"message":`...), content...), '}')
	response, err := t.client.Post(t.endpoint, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(response.Body, 512))
	if response.StatusCode/100 != 2 {
		return fmt.Errorf("trigger: POST %s: HTTP %d %s", t.endpoint, response.StatusCode, bytes.TrimSpace(answer))
	}
	return nil
}

func (t *apiTrigger) close() { t.client.CloseIdleConnections() }
