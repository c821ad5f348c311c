package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// apiStream is one kind of API call the churn makes at a steady rate: route names
// it in the report, call makes one request and returns its outcome.
type apiStream struct {
	route     string
	perSecond float64
	call      func(step int) string
}

// driveAPI starts the API streams beside the churn, each in its own goroutine on its
// own schedule, until stop is closed: sends to users and to connections, channel
// publications one by one and in batches, server-side subscribes and unsubscribes by
// user and by connection, broadcasts, and kicks. Rates scale with -churn-rate (the
// figures are for 200 connects per second).
func (c *churner) driveAPI(stop <-chan struct{}) *sync.WaitGroup {
	scale := c.options.churnRate / 200
	user := func() string { return "churn-" + strconv.FormatInt(rand.Int64N(c.options.churnUsers), 10) }
	message := []byte(`{"message":{"soak":"api"}}`)
	streams := []apiStream{
		{"users/send", 20, func(int) string { return c.request("POST", "/api/v1/users/"+user()+"/send", message) }},
		{"connections/send", 20, func(int) string {
			return c.request("POST", "/api/v1/connections/"+c.recentConnection()+"/send", message)
		}},
		{"channels/publish", 20, func(step int) string {
			return c.request("POST", "/api/v1/channels/"+url.PathEscape(churnChannel(step))+"/publish", []byte(`{"data":{"soak":"api"}}`))
		}},
		{"publish (batch of 10)", 2, func(step int) string {
			channels := make([]string, 10)
			for index := range channels {
				channels[index] = churnChannel(step*10 + index)
			}
			if _, err := c.publisher.publishBatch(channels, []byte(`{"soak":"batch"}`)); err != nil {
				return "error"
			}
			return "2xx"
		}},
		{"users/subscribe and unsubscribe", 10, func(step int) string {
			return c.request("POST", "/api/v1/users/"+user()+"/"+subscribeOrNot(step), serverChannel(step))
		}},
		{"connections/subscribe and unsubscribe", 10, func(step int) string {
			return c.request("POST", "/api/v1/connections/"+c.recentConnection()+"/"+subscribeOrNot(step), serverChannel(step))
		}},
		{"broadcast", 2, func(int) string { return c.request("POST", "/api/v1/broadcast", message) }},
		{"kick connection", 1, func(int) string {
			return c.request("DELETE", "/api/v1/connections/"+c.recentConnection()+"?reason=soak", nil)
		}},
	}
	var done sync.WaitGroup
	for _, stream := range streams {
		done.Go(func() { c.runStream(stream, stream.perSecond*scale, stop) })
	}
	return &done
}

// runStream calls stream at perSecond until stop is closed, skipping calls it is
// too late for rather than bursting.
func (c *churner) runStream(stream apiStream, perSecond float64, stop <-chan struct{}) {
	if perSecond <= 0 {
		return
	}
	ticker := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer ticker.Stop()
	for step := 0; ; step++ {
		select {
		case <-stop:
			return
		case <-ticker.C:
			outcome := stream.call(step)
			c.mutex.Lock()
			if c.api[stream.route] == nil {
				c.api[stream.route] = map[string]int64{}
			}
			c.api[stream.route][outcome]++
			c.mutex.Unlock()
		}
	}
}

// subscribeOrNot alternates subscribe and unsubscribe.
func subscribeOrNot(step int) string {
	if step%2 == 0 {
		return "subscribe"
	}
	return "unsubscribe"
}

// serverChannel is the body of a server-side subscribe or unsubscribe: one of 20
// channels, the same for a subscribe and the unsubscribe after it.
func serverChannel(step int) []byte {
	return []byte(`{"channel":"soak:server-` + strconv.Itoa(step/2%20) + `"}`)
}

// request makes one API call and returns its outcome: "2xx", the status code, or
// "error".
func (c *churner) request(method, path string, body []byte) string {
	request, err := http.NewRequest(method, c.options.base+path, bytes.NewReader(body))
	if err != nil {
		return "error"
	}
	request.Header.Set("Content-Type", "application/json")
	response, err := c.publisher.client.Do(request)
	if err != nil {
		c.noteError(err)
		return "error"
	}
	_, _ = io.Copy(io.Discard, response.Body)
	_ = response.Body.Close()
	if response.StatusCode/100 == 2 {
		return "2xx"
	}
	return strconv.Itoa(response.StatusCode)
}
