// A Go hub on gorilla/websocket (the transport lineage of Centrifugo), speaking the subset of
// tickerhub.v1 the benchmark drives: welcome, list, subscribe with ack and snapshots, quote updates
// with per-symbol seq and ts in nanoseconds.
//
// Written the way gorilla's own chat example and most gorilla users fan out: one reader and one
// writer goroutine per connection, and a buffered send channel between the hub and the writer. The
// writer sends each queued message with WriteMessage: one frame, one write syscall (the chat
// example's trick of packing queued messages into one frame does not fit a JSON-per-frame protocol).
// A full send channel drops the message for that connection (counted),
// like TickerHub's backlog limit skips a slow socket. Same market shape as the other peers: N
// symbols S000.., Zipf(0.8) activity, RATE ticks/s generated every millisecond, each stamped with
// the time it was due, so a fan-out that falls behind shows as latency.
//
// Built offline from Debian's packages (golang-go, golang-github-gorilla-websocket-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o hub .
//	./hub --port 18600 --rate 100 --symbols 500
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// How many messages may wait for one connection's writer before new ones are dropped.
const sendQueue = 1024

type client struct {
	conn *websocket.Conn
	send chan []byte
}

type hub struct {
	mu          sync.RWMutex
	names       []string
	index       map[string]int
	subscribers []map[*client]struct{}
	mid         []float64
	seq         []uint64
	deliveries  atomic.Uint64
	drops       atomic.Uint64
}

func newHub(symbols int) *hub {
	h := &hub{index: map[string]int{}}
	random := rand.New(rand.NewSource(7))
	for i := 0; i < symbols; i++ {
		name := fmt.Sprintf("S%03d", i)
		h.names = append(h.names, name)
		h.index[name] = i
		h.subscribers = append(h.subscribers, map[*client]struct{}{})
		h.mid = append(h.mid, 100+random.Float64()*300)
		h.seq = append(h.seq, 1)
	}
	return h
}

// quote is built by hand, as the other peers do, with "type" first as every v1 client expects.
func (h *hub) quote(i int, kind string, ts int64) []byte {
	return []byte(fmt.Sprintf(`{"type":"%s","symbol":"%s","seq":%d,"ts":%d,"bid":"%.2f00","ask":"%.2f00","bidSize":100,"askSize":200}`,
		kind, h.names[i], h.seq[i], ts, h.mid[i], h.mid[i]+0.01))
}

func (c *client) enqueue(h *hub, message []byte) {
	select {
	case c.send <- message:
		h.deliveries.Add(1)
	default:
		h.drops.Add(1)
	}
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096, CheckOrigin: func(*http.Request) bool { return true }}

func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, send: make(chan []byte, sendQueue)}
	go c.writePump()
	c.send <- []byte(`{"type":"welcome","protocol":"tickerhub.v1","heartbeatMs":0}`)
	c.readPump(h)
}

func (c *client) writePump() {
	defer c.conn.Close()
	for message := range c.send {
		if err := c.conn.WriteMessage(websocket.TextMessage, message); err != nil {
			return
		}
	}
}

func (c *client) readPump(h *hub) {
	var mine []int
	defer func() {
		h.mu.Lock()
		for _, i := range mine {
			delete(h.subscribers[i], c)
		}
		h.mu.Unlock()
		close(c.send)
	}()
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var request struct {
			Op      string   `json:"op"`
			ID      int64    `json:"id"`
			Symbols []string `json:"symbols"`
		}
		if json.Unmarshal(data, &request) != nil {
			continue
		}
		switch request.Op {
		case "list":
			reply, _ := json.Marshal(struct {
				Type    string   `json:"type"`
				ID      int64    `json:"id"`
				Symbols []string `json:"symbols"`
			}{"symbols", request.ID, h.names})
			c.send <- reply
		case "subscribe":
			c.send <- []byte(fmt.Sprintf(`{"type":"ack","id":%d,"op":"subscribe","symbols":["%s"]}`, request.ID, strings.Join(request.Symbols, `","`)))
			h.mu.Lock()
			for _, name := range request.Symbols {
				if i, ok := h.index[name]; ok {
					h.subscribers[i][c] = struct{}{}
					mine = append(mine, i)
					c.enqueue(h, h.quote(i, "snapshot", time.Now().UnixNano()))
				}
			}
			h.mu.Unlock()
		}
	}
}

// run generates the ticks due every millisecond and fans each out to its subscribers' queues.
func (h *hub) run(rate float64) {
	random := rand.New(rand.NewSource(42))
	cumulative := make([]float64, len(h.names))
	total := 0.0
	for i := range h.names {
		total += 1 / math.Pow(float64(i+1), 0.8)
		cumulative[i] = total
	}
	start := time.Now()
	var generated int64
	ticker := time.NewTicker(time.Millisecond)
	for now := range ticker.C {
		for float64(generated+1)/rate <= now.Sub(start).Seconds() {
			generated++
			due := start.Add(time.Duration(float64(generated) / rate * float64(time.Second)))
			i := sort.SearchFloat64s(cumulative, random.Float64()*total)
			h.mu.Lock()
			h.mid[i] *= math.Exp(0.0005 * (random.Float64()*2 - 1))
			h.seq[i]++
			message := h.quote(i, "quote", due.UnixNano())
			for c := range h.subscribers[i] {
				c.enqueue(h, message)
			}
			h.mu.Unlock()
		}
	}
}

func main() {
	port := flag.Int("port", 18600, "listen port")
	rate := flag.Float64("rate", 100, "ticks per second over all symbols")
	symbols := flag.Int("symbols", 500, "symbols in the market")
	flag.Parse()
	h := newHub(*symbols)
	go h.run(*rate)
	http.HandleFunc("/ws", h.serveWS)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"deliveries":%d,"drops":%d}`, h.deliveries.Load(), h.drops.Load())
	})
	log.Printf("go-gorilla hub on %d, %d symbols, %g ticks/s", *port, *symbols, *rate)
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil))
}
