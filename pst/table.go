package pst

import (
	"fmt"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

// subTable reads a table context held in a message subnode (recipients,
// attachments). It returns nil rows when the subnode is absent.
func (f *File) subTable(b *bag, nid uint32) ([]*bag, error) {
	ld, err := gopst.FindLocalDescriptor(gopst.Identifier(nid), b.lds)
	if err != nil {
		return nil, nil
	}
	lds, err := f.localDescriptors(ld.LocalDescriptorsIdentifier)
	if err != nil {
		return nil, err
	}
	hon, err := f.heapFromBID(ld.DataIdentifier)
	if err != nil {
		return nil, err
	}
	return f.table(hon, lds)
}

// table reads all rows of a table context, each as a bag.
func (f *File) table(hon *gopst.HeapOnNode, lds []gopst.LocalDescriptor, cols ...uint16) ([]*bag, error) {
	// go-pst follows subnodes of the table (its row matrix) without
	// checking their data trees: check them first.
	for _, ld := range lds {
		if bn, err := f.pst.GetBlockBTreeNode(ld.DataIdentifier); err == nil {
			if err := f.checkDataTree(bn, 0); err != nil {
				return nil, fmt.Errorf("subnode %#x: %w", ld.Identifier, err)
			}
		}
	}
	tc, err := f.pst.GetTableContext(hon, lds, cols...)
	if err != nil {
		if err == gopst.ErrTableContextNoRows {
			return nil, nil
		}
		return nil, err
	}
	if int64(len(tc.Properties)) > f.size/8 {
		return nil, fmt.Errorf("table claims %d rows", len(tc.Properties))
	}
	rows := make([]*bag, len(tc.Properties))
	for i, props := range tc.Properties {
		rows[i] = &bag{f: f, props: props, hon: tc.HeapOnNode, lds: lds, cp: f.storeCP}
	}
	return rows, nil
}
