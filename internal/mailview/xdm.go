package mailview

import (
	"archive/zip"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
)

// XDMName is the file name of an IHE XDM package sent as an attachment
// (IHE ITI TF-1 §16, as profiled by MSSanté: SPEC §5).
const XDMName = "IHE_XDM.zip"

// maxXDMEntries bounds the listing of a hostile zip.
const maxXDMEntries = 1000

// IsXDMName reports whether a file name is that of an IHE XDM package.
func IsXDMName(name string) bool { return strings.EqualFold(name, XDMName) }

// XDMDocument is one file of an XDM package.
type XDMDocument struct {
	// Name is the path inside the zip (IHE_XDM/SUBSET01/DOC0001.XML).
	Name string
	// Base is the last element of Name.
	Base string
	// Size is the uncompressed size the zip declares.
	Size uint64
	// Metadata marks the XDM metadata and index files (METADATA.XML,
	// INDEX.HTM, README.TXT…) as opposed to the documents themselves.
	Metadata bool
}

// XDMDocuments lists the files of an IHE XDM zip by name, without
// decompressing them (so a zip bomb costs nothing). Directories are left
// out; the documents come first, then the metadata files, each in path
// order.
func XDMDocuments(data []byte) ([]XDMDocument, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read XDM zip: %w", err)
	}
	var out []XDMDocument
	for _, f := range zr.File {
		if len(out) >= maxXDMEntries {
			break
		}
		if f.FileInfo().IsDir() || strings.HasSuffix(f.Name, "/") {
			continue
		}
		name := strings.ToValidUTF8(f.Name, "\uFFFD")
		base := path.Base(strings.ReplaceAll(name, `\`, "/"))
		out = append(out, XDMDocument{Name: name, Base: base, Size: f.UncompressedSize64, Metadata: isXDMMetadata(base)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Metadata != out[j].Metadata {
			return !out[i].Metadata
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// isXDMMetadata tells the files every XDM package carries (IHE ITI TF-3
// §3.32.4.1.3: INDEX.HTM, README.TXT, METADATA.XML of each submission set).
func isXDMMetadata(base string) bool {
	switch strings.ToUpper(base) {
	case "METADATA.XML", "INDEX.HTM", "INDEX.HTML", "README.TXT":
		return true
	}
	return false
}
