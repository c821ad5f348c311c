package client_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/channels"
	"github.com/wsgate/wsgate/client"
	"github.com/wsgate/wsgate/gateway"
	"github.com/wsgate/wsgate/internal/testsupport"
	"github.com/wsgate/wsgate/internal/testsupport/testnode"
	"github.com/wsgate/wsgate/session"
)

// Recovery against a real node whose namespace "history" keeps 2,000 publications
// and "short" 5: connections cut through the test proxy while publications stream,
// a history too short, a node restarted (memory history lost).

// historyNamespaces are the namespaces of the recovery tests, as an operator writes
// them in the configuration file.
const historyNamespaces = `[
	{"name": "history", "history_size": 2000, "recover_max": 2000},
	{"name": "short", "history_size": 5}
]`

// startHistoryNode starts a node on address ("127.0.0.1:0" for a free port) with
// historyNamespaces, a fast heartbeat and trusted ?user_id=.
func startHistoryNode(t *testing.T, address string) *gateway.Gateway {
	t.Helper()
	var namespaces []channels.NamespaceOptions
	if err := json.Unmarshal([]byte(historyNamespaces), &namespaces); err != nil {
		t.Fatalf("namespaces: %v", err)
	}
	config := gateway.Config{InsecureUserID: true, Namespaces: namespaces}
	config.Session = session.Config{PingInterval: pingInterval, PingTimeout: pingTimeout, TimerTick: 10 * time.Millisecond}
	config.Engine.Addr = address
	return testnode.Start(t, config)
}

// checkOnceInOrder fails the test unless the publications of log are the numbers 1
// to count, in order, each with the offset one above the one before.
func checkOnceInOrder(t *testing.T, log *channelLog, count int) {
	t.Helper()
	publications := log.of("publication")
	if len(publications) != count {
		t.Fatalf("%d publications, want %d", len(publications), count)
	}
	for index, publication := range publications {
		if publication.data != strconv.Itoa(index+1) || (index > 0 && publication.offset != publications[index-1].offset+1) {
			t.Fatalf("publication %d is %s at offset %d after offset %d: a gap, a duplicate or out of order",
				index+1, publication.data, publication.offset, publications[max(index-1, 0)].offset)
		}
	}
}

func TestGatewayCutsWhilePublicationsStreamLoseNothingAndDuplicateNothing(t *testing.T) {
	const total = 1000
	node := startHistoryNode(t, "127.0.0.1:0")
	address := node.Addr().String()
	proxy := startProxy(t, address)
	c := startClient(t, fastOptions(testsupport.WebSocketURL(proxy.Addr(), testsupport.UserQuery("ann"))))
	feed, subscription := subscribeLogged(t, c, "history:feed")
	if _, ok := subscription.Position(); !ok {
		t.Fatal("no position after subscribing to a channel with history")
	}

	// settled: subscribed on the open connection, with a recovery for each reconnect
	// (on a loaded machine the heartbeat may drop a connection too).
	settled := func() bool {
		return subscription.State() == client.SubscriptionSubscribed && feed.count("recovery") == c.count("open")-1
	}
	// The publisher cuts every connection of the proxy after publications 200 and 550,
	// so each cut falls while publications stream: the client reconnects after its
	// backoff and recovers what it missed meanwhile, while publishing goes on. Before
	// each cut it waits for the client to settle, so that the cut finds a live
	// connection. It stops early when the test fails, so that no goroutine outlives
	// the test.
	cuts := []int{200, 550}
	published, stopped := make(chan error, 1), make(chan struct{})
	var stop atomic.Bool
	t.Cleanup(func() {
		stop.Store(true)
		<-stopped
	})
	go func() {
		defer close(stopped)
		for number := 1; number <= total && !stop.Load(); number++ {
			if err := publishQuietly(address, "history:feed", number); err != nil {
				published <- err
				return
			}
			if slices.Contains(cuts, number) {
				if !testsupport.Eventually(10*time.Second, func() bool { return settled() || stop.Load() }) {
					published <- fmt.Errorf("the client did not settle within 10s before the cut at %d", number)
					return
				}
				proxy.Cut()
			}
		}
		published <- nil
	}()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	// The checks read the recoveries the wait saw settled: the heartbeat may drop the
	// connection again right after.
	var recoveries []client.Recovery
	waitFor(t, 20*time.Second, "every publication", func() bool {
		recoveries = feed.recoveries()
		return len(feed.data()) >= total && settled() && len(recoveries) == feed.count("recovery")
	})
	checkOnceInOrder(t, feed, total)
	if len(recoveries) < len(cuts) {
		t.Fatalf("%d recoveries for %d cuts", len(recoveries), len(cuts))
	}
	for _, recovery := range recoveries {
		if !recovery.Recovered || recovery.Channel != "history:feed" {
			t.Fatalf("recovery %+v, want recovered", recovery)
		}
	}
	if position, _ := subscription.Position(); position.Offset != feed.of("publication")[total-1].offset {
		t.Fatalf("Position() = %v, want the last publication's offset", position)
	}
}

func TestGatewayHistoryTooShortOrLostIsReportedAsNotRecovered(t *testing.T) {
	node := startHistoryNode(t, "127.0.0.1:0")
	address := node.Addr().String()
	proxy := startProxy(t, address)
	c := startClient(t, fastOptions(testsupport.WebSocketURL(proxy.Addr(), testsupport.UserQuery("ann"))))
	short, subscription := subscribeLogged(t, c, "short:feed")
	backendPublish(t, address, "short:feed", 1)
	waitFor(t, 5*time.Second, "the first publication", func() bool { return len(short.data()) == 1 })
	before, _ := subscription.Position()

	// Offline while ten publications are made: five more than the history keeps.
	proxy.SetTarget(reservedAddress(t))
	proxy.Cut()
	waitFor(t, 5*time.Second, "a failed reconnect", func() bool { return c.count("close") >= 2 })
	for number := 2; number <= 11; number++ {
		backendPublish(t, address, "short:feed", number)
	}
	proxy.SetTarget(address)
	// notRecovered returns the recoveries that said false. Others may come between: on
	// a loaded machine the heartbeat may drop a connection too.
	notRecovered := func() []client.Recovery {
		var recoveries []client.Recovery
		for _, recovery := range short.recoveries() {
			if !recovery.Recovered {
				recoveries = append(recoveries, recovery)
			}
		}
		return recoveries
	}
	waitFor(t, 10*time.Second, "the recovery event", func() bool { return len(notRecovered()) == 1 })
	recovery := notRecovered()[0]
	want := client.Position{Offset: before.Offset + 10, Epoch: before.Epoch}
	if recovery.Recovered || recovery.Position != want {
		t.Fatalf("recovery %+v, want not recovered at %v", recovery, want)
	}
	backendPublish(t, address, "short:feed", 12)
	waitFor(t, 5*time.Second, "the next live publication", func() bool { return len(short.data()) == 2 })
	if got := short.of("publication")[1]; got.data != "12" || got.offset != want.Offset+1 {
		t.Fatalf("after recovered:false got %s at offset %d", got.data, got.offset)
	}

	// A node restarted on the same address has lost its memory history: a new epoch.
	node.Shutdown(5 * time.Second)
	startHistoryNode(t, address)
	waitFor(t, 10*time.Second, "the recovery event after the restart", func() bool { return len(notRecovered()) == 2 })
	if got := notRecovered()[1]; got.Position.Epoch == "" || got.Position.Epoch == before.Epoch {
		t.Fatalf("recovery %+v after a restart, want a new epoch", got)
	}
	if short.count("error") != 0 {
		t.Fatalf("errors %v", short.of("error"))
	}
}

// publishQuietly publishes number to channel through the API of the node at
// address; unlike backendPublish it may run on any goroutine, since it reports
// instead of failing the test.
func publishQuietly(address, channel string, number int) error {
	body := strings.NewReader(`{"data":` + strconv.Itoa(number) + `}`)
	response, err := http.Post("http://"+address+"/api/v1/channels/"+url.PathEscape(channel)+"/publish", "application/json", body)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(response.Body)
	if response.StatusCode/100 != 2 {
		return fmt.Errorf("publish %d to %s: %d %s", number, channel, response.StatusCode, answer)
	}
	return nil
}
