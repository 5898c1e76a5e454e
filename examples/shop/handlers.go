package main

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// shop serves the catalogue, users and orders.
type shop struct {
	st  *store
	biz *bizmetrics.Metrics
	// failUntil, a Unix time in nanoseconds, makes orders fail with 503
	// until then: a scripted fault (POST /admin/fault).
	failUntil atomic.Int64
	// chaos makes a small share of requests slow or failing, as real
	// dependencies do, so the dashboard and alerts have something to show.
	chaos bool
}

func (s *shop) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /products", s.listProducts)
	mux.HandleFunc("GET /products/{id}", s.getProduct)
	mux.HandleFunc("POST /users", s.createUser)
	mux.HandleFunc("POST /orders", s.placeOrder)
	mux.HandleFunc("GET /orders/{id}", s.getOrder)
}

func (s *shop) listProducts(w http.ResponseWriter, r *http.Request) {
	list, err := s.st.products(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reading products failed")
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *shop) getProduct(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "product id must be a positive number")
		return
	}
	if s.chaos && rand.IntN(100) == 0 {
		// A slow supplier lookup, now and then.
		select {
		case <-time.After(1200 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	p, err := s.st.product(r.Context(), id)
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "no such product")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "reading the product failed")
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

var sources = map[string]bool{"web": true, "mobile": true, "api": true, "partner": true}

func (s *shop) createUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email  string `json:"email"`
		Source string `json:"source"`
	}
	if !decode(w, r, &req) {
		return
	}
	addr, err := mail.ParseAddress(req.Email)
	if err != nil || addr.Address != req.Email {
		writeError(w, http.StatusBadRequest, "email must be a plain address such as ada@example.com")
		return
	}
	if !sources[req.Source] {
		writeError(w, http.StatusBadRequest, "source must be one of web, mobile, api, partner")
		return
	}
	id, err := s.st.addUser(r.Context(), strings.ToLower(req.Email), req.Source)
	switch {
	case errors.Is(err, errExists):
		writeError(w, http.StatusConflict, "this email is already registered")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "saving the user failed")
		return
	}
	_ = s.biz.Registration(r.Context(), req.Source)
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "source": req.Source})
}

func (s *shop) placeOrder(w http.ResponseWriter, r *http.Request) {
	if time.Now().UnixNano() < s.failUntil.Load() {
		writeError(w, http.StatusServiceUnavailable, "orders are unavailable (injected fault)")
		return
	}
	var req struct {
		UserID    int64  `json:"user_id"`
		ProductID int64  `json:"product_id"`
		Quantity  int    `json:"quantity"`
		Currency  string `json:"currency"`
	}
	if !decode(w, r, &req) {
		return
	}
	p, err := s.st.product(r.Context(), req.ProductID)
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusBadRequest, "unknown product_id")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "reading the product failed")
		return
	case req.Quantity < 1 || req.Quantity > 100:
		writeError(w, http.StatusBadRequest, "quantity must be between 1 and 100")
		return
	case !validCurrency(req.Currency):
		writeError(w, http.StatusBadRequest, "currency must be an active ISO 4217 code such as EUR")
		return
	}
	if req.UserID != 0 {
		if ok, err := s.st.userExists(r.Context(), req.UserID); err != nil || !ok {
			writeError(w, http.StatusBadRequest, "unknown user_id")
			return
		}
	}
	if s.chaos && rand.IntN(100) == 0 {
		writeError(w, http.StatusBadGateway, "the payment gateway failed")
		return
	}
	o := placedOrder{UserID: req.UserID, ProductID: p.ID, Quantity: req.Quantity, Total: p.Price * float64(req.Quantity),
		Currency: req.Currency, CreatedAt: time.Now().UTC()}
	if o.ID, err = s.st.addOrder(r.Context(), o); err != nil {
		writeError(w, http.StatusInternalServerError, "saving the order failed")
		return
	}
	_ = s.biz.Order(r.Context(), o.Currency, o.Total)
	writeJSON(w, http.StatusCreated, o)
}

func (s *shop) getOrder(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "order id must be a positive number")
		return
	}
	o, err := s.st.order(r.Context(), id)
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "no such order")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "reading the order failed")
	default:
		writeJSON(w, http.StatusOK, o)
	}
}

// decode reads a small JSON body strictly, answering 400 when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func validCurrency(code string) bool {
	_, ok := bizmetrics.CurrencyExponent(code)
	return ok
}
