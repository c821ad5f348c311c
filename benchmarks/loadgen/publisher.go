package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// publisher publishes to wsgate's channels through its HTTP API: one channel with
// POST /api/v1/channels/{channel}/publish, many with the batch endpoint
// POST /api/v1/publish, which keeps the HTTP cost per publication low.
type publisher struct {
	base   string
	client *http.Client
}

func newPublisher(base string) *publisher {
	return &publisher{base: base, client: &http.Client{Timeout: 30 * time.Second}}
}

// publish posts {"data":content} to channel and returns the subscribers it was
// queued for.
func (p *publisher) publish(channel string, content []byte) (int64, error) {
	body := make([]byte, 0, len(content)+16)
	body = append(append(append(body, `{"data":`...), content...), '}')
	var answer struct {
		Queued int64 `json:"queued"`
	}
	err := p.post("/api/v1/channels/"+url.PathEscape(channel)+"/publish", body, &answer)
	return answer.Queued, err
}

// publishBatch posts one publication of content to each of channels and returns the
// subscribers they were queued for in all; an item the server refused is an error.
func (p *publisher) publishBatch(channels []string, content []byte) (int64, error) {
	body := make([]byte, 0, len(channels)*(len(content)+32)+24)
	body = append(body, `{"publications":[`...)
	for index, channel := range channels {
		if index > 0 {
			body = append(body, ',')
		}
		body = append(append(append(body, `{"channel":"`...), channel...), `","data":`...)
		body = append(append(body, content...), '}')
	}
	body = append(body, "]}"...)
	var answer struct {
		Results []struct {
			Queued int64  `json:"queued"`
			Error  string `json:"error"`
		} `json:"results"`
	}
	if err := p.post("/api/v1/publish", body, &answer); err != nil {
		return 0, err
	}
	queued := int64(0)
	for index, item := range answer.Results {
		if item.Error != "" {
			return queued, fmt.Errorf("publish to %s: %s", channels[index], item.Error)
		}
		queued += item.Queued
	}
	return queued, nil
}

// post sends body to path and decodes the answer into answer.
func (p *publisher) post(path string, body []byte, answer any) error {
	response, err := p.client.Post(p.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer response.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if response.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d %s", path, response.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, answer)
}

func (p *publisher) close() { p.client.CloseIdleConnections() }
