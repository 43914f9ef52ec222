package atlaskeys

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// rotationMarkerFormat starts the description of every replacement key that
// Rotate creates. It names the old key's public key and id, so a rerun finds
// an earlier replacement instead of creating a second one.
const rotationMarkerFormat = "rotated from %s (%s)"

// rotationMarkerRE matches the marker at the start of a description and
// captures the old key's public key and id.
var rotationMarkerRE = regexp.MustCompile(`^rotated from (\S+) \(([0-9a-f]{24})\)`)

// maxDescRunes is Atlas's limit on an API key description.
const maxDescRunes = 250

// DefaultAccessListBatchSize is how many access-list entries Rotate sends in
// one AccessList.Create call when RotateOptions.AccessListBatchSize is 0.
const DefaultAccessListBatchSize = 100

// DefaultUndoTimeout bounds the undo of a failed rotation when
// RotateOptions.UndoTimeout is 0.
const DefaultUndoTimeout = time.Minute

// RotateOptions tunes Client.Rotate. The zero value is a safe default: the
// old key is kept, so its users keep working until the new secret is deployed.
type RotateOptions struct {
	// DeleteOld deletes the old key once the replacement is complete. Leave
	// it false (the default) to deploy the new secret first, then call
	// RetireOld.
	DeleteOld bool

	// OnCreate, when set, is called with the replacement key right after
	// Atlas creates it and before anything is copied to it: the only moment
	// besides the returned Rotation when its PrivateKey is known. Store the
	// secret there to survive a crash mid-rotation (a rerun then converges
	// the same key, see Rotate). An error from OnCreate fails the rotation,
	// which is then undone. If a later step fails, the key OnCreate saw is
	// deleted again.
	OnCreate func(ctx context.Context, key *APIKey) error

	// DiscardEarlier makes Rotate delete every earlier replacement of the
	// key (found by its description marker) and create a fresh one, instead
	// of converging the earlier one. Use it when the earlier replacement's
	// secret was lost. The deleted replacements are not restored if the
	// rotation then fails.
	DiscardEarlier bool

	// AccessListBatchSize is the most access-list entries sent in one
	// AccessList.Create call (0 means DefaultAccessListBatchSize).
	AccessListBatchSize int

	// UndoTimeout bounds the undo after a failure (0 means
	// DefaultUndoTimeout). The undo runs on a context that the caller's
	// cancellation does not stop, so a cancelled rotation is still undone.
	UndoTimeout time.Duration
}

// Rotation is the result of Client.Rotate: the old key, its replacement and
// what was copied.
type Rotation struct {
	// OrgID is the organization of both keys.
	OrgID string
	// Old is the rotated key as read before the rotation.
	Old *APIKey
	// New is the replacement key, with the organization and project roles
	// it was given. New.PrivateKey holds its secret when Resumed is false;
	// read it with New.PrivateKey.Reveal() and store it: Atlas never shows
	// it again. When Resumed is true, New.PrivateKey is empty.
	New *APIKey
	// Resumed reports that an earlier replacement of Old (from an
	// interrupted or repeated rotation) was found by its description marker
	// and converged instead of creating a second one. Its secret cannot be
	// recovered from Atlas: it is what RotateOptions.OnCreate saw, or what
	// the earlier Rotate returned. If it is lost, rotate again with
	// RotateOptions.DiscardEarlier.
	Resumed bool
	// OrgRoles are the organization roles of both keys.
	OrgRoles []string
	// ProjectRoles are both keys' roles by project id.
	ProjectRoles map[string][]string
	// AccessList holds Old's access-list entries, as copied to New: IP
	// addresses as IPAddress, CIDR blocks as CIDRBlock.
	AccessList []AccessListRequest
	// OldDeleted reports that the old key was deleted (RotateOptions.DeleteOld
	// or RetireOld).
	OldDeleted bool
	// Steps lists the changes made in Atlas, in order.
	Steps []RotationStep
}

// RotationStep is one change Rotate made or undid, or the step that failed.
type RotationStep struct {
	// Op is what was done, such as "create key" or "assign project".
	Op string
	// Target names what it was done to: a key id, a project id, addresses.
	Target string
}

// String returns "op target".
func (s RotationStep) String() string {
	if s.Target == "" {
		return s.Op
	}
	return s.Op + " " + s.Target
}

// The operations a RotationStep names.
const (
	StepReadKey            = "read key"
	StepReadAccessList     = "read access list"
	StepFindEarlier        = "find earlier replacement"
	StepDiscardEarlier     = "delete earlier replacement"
	StepCreateKey          = "create key"
	StepOnCreate           = "OnCreate"
	StepUpdateOrgRoles     = "update organization roles"
	StepAddAccessList      = "add access list entries"
	StepAssignProject      = "assign project"
	StepUpdateProjectRoles = "update project roles"
	StepDeleteOld          = "delete old key"
	StepVerifyOld          = "verify old key"
	StepDeleteKey          = "delete key"
	StepDeleteEntry        = "delete access list entry"
	StepUnassignProject    = "unassign project"
	StepRestoreRoles       = "restore roles"
	StepSweep              = "verify no replacement was created"
)

// RotationError is returned when a rotation fails. It says which step
// failed, what had been done and what was undone, and wraps the cause, so
// errors.Is and errors.As see the underlying *APIError or context error.
// It never holds a private key.
type RotationError struct {
	// OrgID and OldKeyID identify the rotated key.
	OrgID, OldKeyID string
	// NewKeyID is the replacement's id, when one was created or found.
	NewKeyID string
	// Failed is the step that failed.
	Failed RotationStep
	// Done lists the changes made before the failure, in order.
	Done []RotationStep
	// Undone lists the undo actions that succeeded, in the order they ran.
	Undone []RotationStep
	// UndoErr is non-nil when the undo did not complete: the organization
	// may still hold what Done lists (a rerun of Rotate converges it).
	UndoErr error
	// Err is the cause.
	Err error
}

// Error reads like "atlaskeys: rotating API key X: assign project G failed:
// <cause>; done: create key N, …; undone: delete key N".
func (e *RotationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "atlaskeys: rotating API key %s: %s failed: %v", e.OldKeyID, e.Failed, e.Err)
	b.WriteString("; done: ")
	b.WriteString(joinSteps(e.Done))
	b.WriteString("; undone: ")
	b.WriteString(joinSteps(e.Undone))
	if e.UndoErr != nil {
		fmt.Fprintf(&b, "; UNDO INCOMPLETE, replacement %s may remain (rerun Rotate to converge it): %v", e.NewKeyID, e.UndoErr)
	}
	return b.String()
}

// Unwrap returns the cause (not the undo error).
func (e *RotationError) Unwrap() error { return e.Err }

func joinSteps(steps []RotationStep) string {
	if len(steps) == 0 {
		return "nothing"
	}
	s := make([]string, len(steps))
	for i, st := range steps {
		s[i] = st.String()
	}
	return strings.Join(s, ", ")
}

// rotationMarker returns the description marker of a replacement of key.
func rotationMarker(key *APIKey) string {
	return fmt.Sprintf(rotationMarkerFormat, key.PublicKey, key.ID)
}

// replacementDesc is the replacement's description: the marker, then as
// much of the old description as fits in 250 characters (an earlier marker
// at its start is dropped, so repeated rotations do not pile markers up).
func replacementDesc(old *APIKey) string {
	desc := rotationMarker(old)
	rest := old.Desc
	if m := rotationMarkerRE.FindString(rest); m != "" {
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, m), ": ")
	}
	if rest == "" {
		return truncateRunes(desc, maxDescRunes)
	}
	return truncateRunes(desc+": "+rest, maxDescRunes)
}

// truncateRunes shortens s to at most n runes, ending in "…" when cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// isReplacementOf reports whether desc carries the marker of a replacement
// of the key with id oldID.
func isReplacementOf(desc, oldID string) bool {
	m := rotationMarkerRE.FindStringSubmatch(desc)
	return m != nil && m[2] == oldID
}

// entryKey is an access-list address in canonical form (masked CIDR), so
// "203.0.113.10" and "203.0.113.10/32" are the same entry.
func entryKey(address string) string {
	if p, err := netip.ParsePrefix(address); err == nil {
		return p.Masked().String()
	}
	if a, err := netip.ParseAddr(address); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return address
}

func (r AccessListRequest) address() string {
	if r.CIDRBlock != "" {
		return r.CIDRBlock
	}
	return r.IPAddress
}

func sameRoles(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// Rotate replaces an organization API key with a new one that has the same
// organization roles, project roles and IP access list:
//
//  1. it reads the old key (its roles include its project roles) and its
//     whole access list;
//  2. it creates an organization key with the same organization roles and
//     the description "rotated from <publicKey> (<id>): <old description>",
//     cut to Atlas's 250 characters;
//  3. it copies every access-list entry (AccessListBatchSize per call);
//  4. it assigns the new key to each of the old key's projects, with the
//     same roles;
//  5. with opts.DeleteOld it deletes the old key (by default it is kept:
//     deploy the new secret, then call RetireOld).
//
// The returned Rotation holds the new key and its secret
// (Rotation.New.PrivateKey, redacted when printed).
//
// Failure: when a step fails, Rotate undoes what it did (deleting the new
// key removes its access list and project assignments with it) on a context
// the caller's cancellation does not stop, bounded by opts.UndoTimeout, and
// returns a *RotationError that lists the changes done and undone and wraps
// the cause. A failed create is followed by a search for a key Atlas may
// have created despite the error, which is deleted too. The organization is
// then as Rotate found it. If deleting the old key fails, Rotate checks
// whether it still exists: if so the new key is removed too; if the check
// fails as well the new key is kept (removing it could leave neither key)
// and the Rotation is returned together with the error.
//
// Reruns: a replacement is recognised by the marker at the start of its
// description. If the undo of a failed rotation did not complete, or a
// process died mid-rotation, or the rotation is simply run twice, Rotate
// finds the earlier replacement and converges it instead of creating a
// second one: it sets missing organization roles, adds missing access-list
// entries and project assignments (nothing it does not need) and returns it
// with Resumed set and no secret (Atlas cannot show it again; see
// RotateOptions.OnCreate). When converging, a failure undoes only that
// run's own changes. Several earlier replacements are an error; with
// opts.DiscardEarlier they are all deleted and a fresh key is created.
//
// Invalid ids return an error matching ErrInvalidArgument before anything
// is sent. The calling key needs the Organization Owner role.
func (c *Client) Rotate(ctx context.Context, orgID, apiKeyID string, opts RotateOptions) (*Rotation, error) {
	if err := checkIDs("orgID", orgID, "apiKeyID", apiKeyID); err != nil {
		return nil, err
	}
	switch {
	case opts.AccessListBatchSize < 0:
		return nil, invalidArg("opts.AccessListBatchSize", "must not be negative (0 means 100)")
	case opts.UndoTimeout < 0:
		return nil, invalidArg("opts.UndoTimeout", "must not be negative (0 means 1 minute)")
	}
	if opts.AccessListBatchSize == 0 {
		opts.AccessListBatchSize = DefaultAccessListBatchSize
	}
	if opts.UndoTimeout == 0 {
		opts.UndoTimeout = DefaultUndoTimeout
	}
	r := &rotator{c: c, orgID: orgID, oldID: apiKeyID, opts: opts}
	return r.run(ctx)
}

// rotator carries one rotation: what it changed, and how to undo it.
type rotator struct {
	c      *Client
	orgID  string
	oldID  string
	opts   RotateOptions
	rot    *Rotation
	done   []RotationStep
	undos  []undoAction // run last first
	newKey *APIKey
	// created is set when this run created the replacement: undoing then
	// means deleting it, which removes everything copied to it.
	created bool
	// undoing is the error being built while the undo runs.
	undoing *RotationError
}

type undoAction struct {
	step RotationStep
	run  func(ctx context.Context) error
}

func (r *rotator) did(op, target string) {
	r.done = append(r.done, RotationStep{Op: op, Target: target})
}

// fail undoes what this run changed and builds the error.
func (r *rotator) fail(ctx context.Context, op, target string, cause error) *RotationError {
	e := &RotationError{
		OrgID:    r.orgID,
		OldKeyID: r.oldID,
		Failed:   RotationStep{Op: op, Target: target},
		Done:     slices.Clone(r.done),
		Err:      cause,
	}
	if r.newKey != nil {
		e.NewKeyID = r.newKey.ID
	}
	if len(r.undos) == 0 {
		return e
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.UndoTimeout)
	defer cancel()
	r.undoing = e
	var errs []error
	for i := len(r.undos) - 1; i >= 0; i-- {
		u := r.undos[i]
		if err := u.run(uctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.step, err))
			continue
		}
		if u.step.Op != "" {
			e.Undone = append(e.Undone, u.step)
		}
	}
	r.undos = nil
	e.UndoErr = errors.Join(errs...)
	return e
}

func (r *rotator) run(ctx context.Context) (*Rotation, error) {
	c := r.c
	// 1. Read the old key and its access list.
	old, _, err := c.OrgAPIKeys.Get(ctx, r.orgID, r.oldID)
	if err != nil {
		return nil, r.fail(ctx, StepReadKey, r.oldID, err)
	}
	var access []AccessListRequest
	seen := map[string]bool{}
	for e, err := range c.AccessList.All(ctx, r.orgID, r.oldID, &ListOptions{ItemsPerPage: MaxItemsPerPage}) {
		if err != nil {
			return nil, r.fail(ctx, StepReadAccessList, r.oldID, err)
		}
		req := e.Request()
		if k := entryKey(req.address()); !seen[k] {
			seen[k] = true
			access = append(access, req)
		}
	}
	orgRoles := old.OrgRoles()
	if len(orgRoles) == 0 {
		orgRoles = []string{RoleOrgMember} // every organization key is at least a member
	}
	projects := old.ProjectRoles()
	r.rot = &Rotation{
		OrgID:        r.orgID,
		Old:          old,
		OrgRoles:     orgRoles,
		ProjectRoles: projects,
		AccessList:   access,
	}

	// 2. Find an earlier replacement, or create one.
	earlier, err := r.findReplacements(ctx)
	if err != nil {
		return nil, r.fail(ctx, StepFindEarlier, r.oldID, err)
	}
	if len(earlier) > 0 && r.opts.DiscardEarlier {
		for _, k := range earlier {
			if _, err := c.OrgAPIKeys.Delete(ctx, r.orgID, k.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, r.fail(ctx, StepDiscardEarlier, k.ID, err)
			}
			r.did(StepDiscardEarlier, k.ID)
		}
		earlier = nil
	}
	switch len(earlier) {
	case 0:
		if err := r.create(ctx); err != nil {
			return nil, err
		}
	case 1:
		if err := r.resume(ctx, earlier[0]); err != nil {
			return nil, err
		}
	default:
		ids := make([]string, len(earlier))
		for i, k := range earlier {
			ids[i] = k.ID
		}
		return nil, r.fail(ctx, StepFindEarlier, r.oldID, fmt.Errorf(
			"%d earlier replacements exist (%s); delete all but one, or set RotateOptions.DiscardEarlier", len(ids), strings.Join(ids, ", ")))
	}

	// 3. Copy the access list: whatever the replacement lacks.
	have := map[string]bool{}
	if !r.created {
		for e, err := range c.AccessList.All(ctx, r.orgID, r.newKey.ID, &ListOptions{ItemsPerPage: MaxItemsPerPage}) {
			if err != nil {
				return nil, r.fail(ctx, StepReadAccessList, r.newKey.ID, err)
			}
			have[entryKey(e.Address())] = true
		}
	}
	var missing []AccessListRequest
	for _, a := range access {
		if !have[entryKey(a.address())] {
			missing = append(missing, a)
		}
	}
	for batch := range slices.Chunk(missing, r.opts.AccessListBatchSize) {
		target := addresses(batch)
		if !r.created {
			// Undo what this batch may have added, even when the call
			// failed (Atlas may have acted); entries already gone are fine.
			r.undos = append(r.undos, undoAction{
				step: RotationStep{Op: StepDeleteEntry, Target: target},
				run: func(ctx context.Context) error {
					for _, a := range batch {
						if _, err := c.AccessList.Delete(ctx, r.orgID, r.newKey.ID, a.address()); err != nil && !errors.Is(err, ErrNotFound) {
							return err
						}
					}
					return nil
				},
			})
		}
		if _, _, err := c.AccessList.Create(ctx, r.orgID, r.newKey.ID, batch); err != nil {
			return nil, r.fail(ctx, StepAddAccessList, target, err)
		}
		r.did(StepAddAccessList, target)
	}

	// 4. Assign the replacement to the old key's projects.
	current := r.newKey.ProjectRoles()
	groups := make([]string, 0, len(projects))
	for g := range projects {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		want := projects[g]
		got, assigned := current[g]
		switch {
		case assigned && sameRoles(got, want):
			continue
		case assigned:
			if err := r.updateProjectRoles(ctx, g, got, want); err != nil {
				return nil, err
			}
		default:
			if !r.created {
				r.undos = append(r.undos, undoAction{
					step: RotationStep{Op: StepUnassignProject, Target: g},
					run: func(ctx context.Context) error {
						if _, err := c.ProjectAPIKeys.Unassign(ctx, g, r.newKey.ID); err != nil && !errors.Is(err, ErrNotFound) {
							return err
						}
						return nil
					},
				})
			}
			if _, err := c.ProjectAPIKeys.Assign(ctx, g, r.newKey.ID, want); err != nil {
				return nil, r.fail(ctx, StepAssignProject, g, err)
			}
			r.did(StepAssignProject, g)
		}
	}

	r.newKey.Roles = rolesFor(r.orgID, orgRoles, projects, groups)
	r.rot.New = r.newKey
	r.rot.Steps = r.done

	// 5. Optionally retire the old key.
	if r.opts.DeleteOld {
		return r.deleteOld(ctx)
	}
	return r.rot, nil
}

// findReplacements lists the organization's keys whose description marks
// them as replacements of the old key.
func (r *rotator) findReplacements(ctx context.Context) ([]*APIKey, error) {
	var out []*APIKey
	for k, err := range r.c.OrgAPIKeys.All(ctx, r.orgID, &ListOptions{ItemsPerPage: MaxItemsPerPage}) {
		if err != nil {
			return nil, err
		}
		if k.ID != r.oldID && isReplacementOf(k.Desc, r.oldID) {
			out = append(out, k)
		}
	}
	return out, nil
}

// create makes the replacement key. If the create call fails, Atlas may
// still have created the key (a 5xx or a dropped connection after the POST
// was sent), so the undo searches for it by its marker and deletes it.
func (r *rotator) create(ctx context.Context) error {
	c := r.c
	desc := replacementDesc(r.rot.Old)
	// Registered before the call: whatever happens next, the undo deletes
	// the replacement, found by id or else by its marker.
	r.undos = append(r.undos, undoAction{run: func(ctx context.Context) error {
		if r.newKey != nil {
			if _, err := c.OrgAPIKeys.Delete(ctx, r.orgID, r.newKey.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			r.undone(StepDeleteKey, r.newKey.ID)
			return nil
		}
		found, err := r.findReplacements(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", StepSweep, err)
		}
		for _, k := range found {
			if _, err := c.OrgAPIKeys.Delete(ctx, r.orgID, k.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			r.undone(StepDeleteKey, k.ID+" (created despite the error)")
		}
		if len(found) == 0 {
			r.undone(StepSweep, "")
		}
		return nil
	}})
	k, _, err := c.OrgAPIKeys.Create(ctx, r.orgID, &CreateAPIKeyRequest{Desc: desc, Roles: r.rot.OrgRoles})
	if err != nil {
		return r.fail(ctx, StepCreateKey, "", err)
	}
	r.newKey, r.created = k, true
	r.did(StepCreateKey, k.ID)
	if r.opts.OnCreate != nil {
		if err := r.opts.OnCreate(ctx, k); err != nil {
			return r.fail(ctx, StepOnCreate, k.ID, err)
		}
	}
	return nil
}

// undone records an undo action that succeeded, from inside an undo
// function that does several things (its undoAction has no step).
func (r *rotator) undone(op, target string) {
	r.undoing.Undone = append(r.undoing.Undone, RotationStep{Op: op, Target: target})
}

// resume converges an earlier replacement: organization roles first.
func (r *rotator) resume(ctx context.Context, k *APIKey) error {
	r.newKey = k
	r.rot.Resumed = true
	k.PrivateKey = ""
	got := k.OrgRoles()
	if sameRoles(got, r.rot.OrgRoles) {
		return nil
	}
	c := r.c
	r.undos = append(r.undos, undoAction{
		step: RotationStep{Op: StepRestoreRoles, Target: k.ID},
		run: func(ctx context.Context) error {
			_, _, err := c.OrgAPIKeys.Update(ctx, r.orgID, k.ID, &UpdateAPIKeyRequest{Roles: got})
			return err
		},
	})
	if _, _, err := c.OrgAPIKeys.Update(ctx, r.orgID, k.ID, &UpdateAPIKeyRequest{Roles: r.rot.OrgRoles}); err != nil {
		return r.fail(ctx, StepUpdateOrgRoles, k.ID, err)
	}
	r.did(StepUpdateOrgRoles, k.ID)
	return nil
}

func (r *rotator) updateProjectRoles(ctx context.Context, groupID string, got, want []string) error {
	c := r.c
	if !r.created {
		r.undos = append(r.undos, undoAction{
			step: RotationStep{Op: StepRestoreRoles, Target: groupID},
			run: func(ctx context.Context) error {
				_, _, err := c.ProjectAPIKeys.UpdateRoles(ctx, groupID, r.newKey.ID, &UpdateAPIKeyRequest{Roles: got})
				return err
			},
		})
	}
	if _, _, err := c.ProjectAPIKeys.UpdateRoles(ctx, groupID, r.newKey.ID, &UpdateAPIKeyRequest{Roles: want}); err != nil {
		return r.fail(ctx, StepUpdateProjectRoles, groupID, err)
	}
	r.did(StepUpdateProjectRoles, groupID)
	return nil
}

// deleteOld deletes the old key as the last step. If that fails, it checks
// whether the old key still exists: if it does, the rotation is undone
// like any other failure; if it is gone, the rotation succeeded; if that
// cannot be told, the replacement is kept and returned with the error.
func (r *rotator) deleteOld(ctx context.Context) (*Rotation, error) {
	c := r.c
	_, err := c.OrgAPIKeys.Delete(ctx, r.orgID, r.oldID)
	if err == nil || errors.Is(err, ErrNotFound) {
		r.did(StepDeleteOld, r.oldID)
		r.rot.OldDeleted = true
		r.rot.Steps = r.done
		return r.rot, nil
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.UndoTimeout)
	defer cancel()
	_, _, verr := c.OrgAPIKeys.Get(vctx, r.orgID, r.oldID)
	switch {
	case verr == nil: // the old key is still there: undo as for any failure
		return nil, r.fail(ctx, StepDeleteOld, r.oldID, err)
	case errors.Is(verr, ErrNotFound): // it was deleted after all
		r.did(StepDeleteOld, r.oldID)
		r.rot.OldDeleted = true
		r.rot.Steps = r.done
		return r.rot, nil
	}
	return r.rot, &RotationError{
		OrgID:    r.orgID,
		OldKeyID: r.oldID,
		NewKeyID: r.newKey.ID,
		Failed:   RotationStep{Op: StepDeleteOld, Target: r.oldID},
		Done:     slices.Clone(r.done),
		UndoErr: fmt.Errorf("not undone: whether the old key still exists is unknown (%s: %v), and removing the replacement could leave neither key; call RetireOld to finish",
			StepVerifyOld, verr),
		Err: err,
	}
}

// rolesFor lists roles as Atlas shows them: organization roles, then each
// project's.
func rolesFor(orgID string, orgRoles []string, projects map[string][]string, groups []string) []RoleAssignment {
	var out []RoleAssignment
	for _, role := range orgRoles {
		out = append(out, RoleAssignment{OrgID: orgID, RoleName: role})
	}
	for _, g := range groups {
		for _, role := range projects[g] {
			out = append(out, RoleAssignment{GroupID: g, RoleName: role})
		}
	}
	return out
}

func addresses(batch []AccessListRequest) string {
	s := make([]string, len(batch))
	for i, a := range batch {
		s[i] = a.address()
	}
	return strings.Join(s, " ")
}

// RetireOld deletes the old key of a completed rotation, after the new
// secret is deployed. It first checks that the replacement still exists
// and refuses otherwise, so it never leaves the organization without
// either key. An old key that is already gone is not an error.
func (c *Client) RetireOld(ctx context.Context, orgID string, r *Rotation) error {
	if r == nil || r.Old == nil || r.New == nil {
		return invalidArg("r", "must be a Rotation returned by Rotate")
	}
	if err := checkIDs("orgID", orgID, "r.Old.ID", r.Old.ID); err != nil {
		return err
	}
	if _, _, err := c.OrgAPIKeys.Get(ctx, orgID, r.New.ID); err != nil {
		return fmt.Errorf("atlaskeys: retiring API key %s: not deleted, its replacement %s could not be read: %w", r.Old.ID, r.New.ID, err)
	}
	if _, err := c.OrgAPIKeys.Delete(ctx, orgID, r.Old.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("atlaskeys: retiring API key %s: %w", r.Old.ID, err)
	}
	r.OldDeleted = true
	return nil
}
