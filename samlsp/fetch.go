package samlsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

const (
	// DefaultFetchTimeout bounds a metadata fetch when the caller gives none.
	DefaultFetchTimeout = 30 * time.Second
	// DefaultMaxMetadataBytes bounds a metadata document when the caller
	// gives no bound.
	DefaultMaxMetadataBytes = 8 << 20
)

// ErrMetadataTooLarge is returned by FetchMetadata for a document over the
// size bound.
var ErrMetadataTooLarge = errors.New("samlsp: metadata too large")

// FetchMetadata GETs IdP metadata from metadataURL (http or https) and
// returns the document for Config.IDPMetadata. A timeout or maxBytes of 0
// means DefaultFetchTimeout or DefaultMaxMetadataBytes; a nil client means
// one that follows no redirect. The document is not checked here: New
// parses it.
func FetchMetadata(ctx context.Context, client *http.Client, metadataURL string, timeout time.Duration, maxBytes int64) ([]byte, error) {
	if err := checkAbsoluteURL(metadataURL); err != nil {
		return nil, fmt.Errorf("samlsp: metadata url: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMetadataBytes
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return nil, fmt.Errorf("samlsp: fetch metadata: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("samlsp: fetch metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("samlsp: fetch metadata: status %d", resp.StatusCode)
	}
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMetadataTooLarge, resp.ContentLength, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("samlsp: fetch metadata: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrMetadataTooLarge, maxBytes)
	}
	return data, nil
}
