package docs

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/document"
	"github.com/tetherhq/tether/internal/fleet"
	"github.com/tetherhq/tether/internal/store"
)

// listDocuments serves ListDocuments: the account's documents and the
// built-in ones it has not replaced, by name, filtered, a page at a time.
func (s *Service) listDocuments(ctx context.Context, p *auth.Principal, in *ListDocumentsInput) (any, error) {
	if err := s.cfg.Auth.Authorize(p, "ssm:ListDocuments", "*", nil); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > maxListResults {
		return nil, validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", in.MaxResults, maxListResults)
	}
	filters, err := listFilters(in)
	if err != nil {
		return nil, err
	}

	stored, err := s.cfg.Store.ListDocuments(ctx)
	if err != nil {
		return nil, err
	}
	var all []DocumentIdentifier
	mine := map[string]bool{}
	for _, i := range stored {
		tags, err := s.cfg.Store.ListTags(ctx, store.ResourceDocument, i.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		mine[i.Name] = true
		all = append(all, DocumentIdentifier{
			Name: i.Name, CreatedDate: epoch(i.CreatedDate), Owner: s.cfg.Account, PlatformTypes: platformTypes,
			DocumentVersion: i.DefaultVersion, DocumentType: i.DocumentType, SchemaVersion: document.SchemaVersion,
			DocumentFormat: i.Format, Tags: toAPITags(tags),
		})
	}
	for _, b := range document.Builtins() {
		if mine[b.Name] {
			continue // the account's own stands in for it
		}
		all = append(all, DocumentIdentifier{
			Name: b.Name, Owner: OwnerAmazon, PlatformTypes: platformTypes, DocumentVersion: "1",
			DocumentType: TypeSession, SchemaVersion: document.SchemaVersion, DocumentFormat: b.DocumentFormat,
			Tags: []api.Tag{},
		})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })

	var list []DocumentIdentifier
	for _, d := range all {
		if s.matches(d, filters) {
			list = append(list, d)
		}
	}
	page, next, err := fleet.Paginate(list, in.NextToken, in.MaxResults, maxListResults, maxListResults)
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []DocumentIdentifier{}
	}
	return ListDocumentsOutput{DocumentIdentifiers: page, NextToken: next}, nil
}

// listFilters merges both filter forms into one; AWS takes one or the
// other.
func listFilters(in *ListDocumentsInput) ([]DocumentKeyValuesFilter, error) {
	if len(in.Filters) > 0 && len(in.DocumentFilterList) > 0 {
		return nil, validation("Filters and DocumentFilterList cannot be used together")
	}
	fs := in.Filters
	for _, f := range in.DocumentFilterList {
		switch f.Key {
		case "Name", "Owner", "PlatformTypes", "DocumentType":
		default:
			return nil, api.Errorf(api.CodeInvalidFilterKey, "The filter key %q is not valid: use Name, Owner, PlatformTypes or DocumentType.", f.Key)
		}
		fs = append(fs, DocumentKeyValuesFilter{Key: f.Key, Values: []string{f.Value}})
	}
	for _, f := range fs {
		switch {
		case f.Key == "Name", f.Key == "Owner", f.Key == "PlatformTypes", f.Key == "DocumentType", f.Key == "SchemaVersion":
		case strings.HasPrefix(f.Key, "tag:") && len(f.Key) > len("tag:"):
		default:
			return nil, api.Errorf(api.CodeInvalidFilterKey,
				"The filter key %q is not valid: use Name, Owner, PlatformTypes, DocumentType, SchemaVersion or tag:<key>.", f.Key)
		}
	}
	return fs, nil
}

// matches reports whether d passes every filter: each filter holds if any
// of its values does; a filter with no values holds for all (tag:K for
// those with tag K).
func (s *Service) matches(d DocumentIdentifier, filters []DocumentKeyValuesFilter) bool {
	for _, f := range filters {
		if k, ok := strings.CutPrefix(f.Key, "tag:"); ok {
			if !hasTag(d.Tags, k, f.Values) {
				return false
			}
			continue
		}
		if len(f.Values) == 0 {
			continue
		}
		hit := false
		for _, v := range f.Values {
			switch f.Key {
			case "Name":
				hit = strings.HasPrefix(d.Name, v)
			case "Owner":
				hit = s.ownerMatches(d.Owner, v)
			case "PlatformTypes":
				hit = contains(d.PlatformTypes, v)
			case "DocumentType":
				hit = d.DocumentType == v
			case "SchemaVersion":
				hit = d.SchemaVersion == v
			}
			if hit {
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// ownerMatches reads an Owner filter value: Self and Private are the
// account's documents (so is its id), Amazon and Public the built-in ones
// (AWS's own are public), All every one; ThirdParty, and anything else,
// none.
func (s *Service) ownerMatches(owner, v string) bool {
	switch v {
	case "Self", "Private", s.cfg.Account:
		return owner == s.cfg.Account
	case OwnerAmazon, "Public":
		return owner == OwnerAmazon
	case "All":
		return true
	}
	return false
}

func hasTag(tags []api.Tag, key string, values []string) bool {
	for _, t := range tags {
		if t.Key == key && (len(values) == 0 || contains(values, t.Value)) {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
