// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    applicant_deadlines (id) {
        id -> Int8,
        filing_id -> Uuid,
        code -> Text,
        due_on -> Date,
        state_visit -> Nullable<Int4>,
        remind_on -> Array<Nullable<Date>>,
        next_remind_on -> Nullable<Date>,
        reminders_sent -> Int4,
        opened_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        extensions -> Int4,
        expires_with -> Nullable<Text>,
    }
}

diesel::table! {
    audit_heads (chain) {
        chain -> Text,
        seq -> Int8,
        hash -> Text,
        updated_at -> Timestamptz,
        sealed_seq -> Int8,
        prev_hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        chain -> Text,
        seq -> Int8,
        filing_id -> Nullable<Uuid>,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        at -> Timestamptz,
        entry -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_seal_heads (seal_seq, chain) {
        seal_seq -> Int8,
        chain -> Text,
        seq -> Int8,
        hash -> Text,
    }
}

diesel::table! {
    audit_seals (seq) {
        seq -> Int8,
        sealed_at -> Timestamptz,
        heads -> Int4,
        entry -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    calendar_regions (region) {
        region -> Text,
        name_zh -> Text,
        name_en -> Text,
        base -> Nullable<Text>,
        local_holidays -> Array<Nullable<Date>>,
        local_workdays -> Array<Nullable<Date>>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    calendar_years (region, year) {
        region -> Text,
        year -> Int4,
        notice -> Text,
        holidays -> Array<Nullable<Date>>,
        workdays -> Array<Nullable<Date>>,
        source -> Text,
        loaded_at -> Timestamptz,
        loaded_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    certificate_events (id) {
        id -> Int8,
        certificate_id -> Uuid,
        status -> Text,
        at -> Timestamptz,
        reason -> Nullable<Text>,
        action -> Nullable<Text>,
    }
}

diesel::table! {
    certificate_serials (type_code, day) {
        type_code -> Text,
        day -> Date,
        last -> Int4,
    }
}

diesel::table! {
    certificates (id) {
        id -> Uuid,
        identifier -> Text,
        filing_id -> Uuid,
        document_code -> Text,
        version -> Int4,
        number -> Text,
        status -> Text,
        status_at -> Timestamptz,
        status_reason -> Nullable<Text>,
        valid_until -> Nullable<Date>,
        issued_at -> Timestamptz,
        public_fields -> Jsonb,
        superseded_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    clock_events (id) {
        id -> Int8,
        filing_id -> Uuid,
        event -> Text,
        reason -> Nullable<Text>,
        days -> Nullable<Int4>,
        at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    create_requests (applicant_id, key) {
        applicant_id -> Uuid,
        key -> Text,
        request_sha256 -> Text,
        filing_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    departments (code) {
        code -> Text,
        name_zh -> Text,
        name_en -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    documents (id) {
        id -> Uuid,
        filing_id -> Uuid,
        code -> Text,
        kind -> Text,
        title_zh -> Text,
        title_en -> Text,
        version -> Int4,
        action -> Text,
        issued_at -> Timestamptz,
        issued_by -> Uuid,
        sheet -> Jsonb,
        certificate_id -> Nullable<Uuid>,
        superseded_by -> Nullable<Uuid>,
        superseded_at -> Nullable<Timestamptz>,
        pdf -> Nullable<Bytea>,
        sha256 -> Nullable<Text>,
        seal_signature -> Nullable<Text>,
        rendered_at -> Nullable<Timestamptz>,
        seq -> Int8,
    }
}

diesel::table! {
    draw_conflicts (user_id, credit_code) {
        user_id -> Uuid,
        credit_code -> Text,
        reason -> Text,
        declared_at -> Timestamptz,
    }
}

diesel::table! {
    draw_filings (filing_id) {
        filing_id -> Uuid,
        draw_id -> Uuid,
        number -> Text,
        class -> Text,
        late -> Bool,
        selected -> Nullable<Bool>,
        inspectors -> Array<Nullable<Uuid>>,
    }
}

diesel::table! {
    draws (id) {
        id -> Uuid,
        item_code -> Text,
        item_version_id -> Int4,
        pool_state -> Text,
        mode -> Text,
        rule_version -> Text,
        inputs -> Jsonb,
        committed_at -> Timestamptz,
        commit_seq -> Int8,
        seal_seq -> Nullable<Int8>,
        seed -> Nullable<Text>,
        result -> Nullable<Jsonb>,
        drawn_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    escalations (filing_id) {
        filing_id -> Uuid,
        warn_on -> Nullable<Date>,
        due_on -> Nullable<Date>,
        yellow_sent_for -> Nullable<Date>,
        red_sent_for -> Nullable<Date>,
    }
}

diesel::table! {
    exchange_rows (id) {
        id -> Int8,
        filing_id -> Uuid,
        filing_number -> Text,
        action -> Text,
        blzt -> Int2,
        department -> Text,
        actor_id -> Uuid,
        actor_name -> Text,
        opinion -> Nullable<Text>,
        at -> Timestamptz,
        special -> Nullable<Jsonb>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        exported_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    filing_counters (prefix, year) {
        prefix -> Text,
        year -> Int4,
        last -> Int4,
    }
}

diesel::table! {
    filings (id) {
        id -> Uuid,
        item_version_id -> Int4,
        item_code -> Text,
        number -> Nullable<Text>,
        applicant_id -> Uuid,
        state -> Text,
        state_kind -> Text,
        department -> Text,
        version -> Int4,
        state_visit -> Int4,
        form -> Jsonb,
        promises -> Jsonb,
        notice -> Nullable<Jsonb>,
        entered_state_at -> Timestamptz,
        submitted_at -> Nullable<Timestamptz>,
        accepted_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        statutory_due_on -> Nullable<Date>,
        promised_due_on -> Nullable<Date>,
        warn_on -> Nullable<Date>,
        step_due_on -> Nullable<Date>,
        clock_suspended -> Bool,
        clock_provisional -> Bool,
        on_time_statutory -> Nullable<Bool>,
        on_time_promised -> Nullable<Bool>,
        escalation_warn_on -> Nullable<Date>,
        escalation_due_on -> Nullable<Date>,
        channel -> Nullable<Int2>,
        filed_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    item_versions (id) {
        id -> Int4,
        code -> Text,
        version -> Int4,
        digest -> Text,
        source -> Text,
        definition -> Jsonb,
        loaded_at -> Timestamptz,
    }
}

diesel::table! {
    job_runs (job) {
        job -> Text,
        running_until -> Nullable<Timestamptz>,
        last_started_at -> Timestamptz,
        last_finished_at -> Nullable<Timestamptz>,
        last_instance -> Text,
        last_result -> Nullable<Jsonb>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttle (username) {
        username -> Text,
        failures -> Int4,
        locked_until -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    materials (id) {
        id -> Uuid,
        filing_id -> Uuid,
        material -> Text,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        uploaded_by -> Uuid,
        uploaded_at -> Timestamptz,
        superseded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    objections (id) {
        id -> Int8,
        filing_id -> Uuid,
        visit -> Int4,
        body -> Text,
        recorded_by -> Uuid,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        dedupe_key -> Text,
        kind -> Text,
        filing_id -> Nullable<Uuid>,
        recipient_id -> Nullable<Uuid>,
        to_address -> Text,
        lang -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        message_id -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        smtp_response -> Nullable<Text>,
        bodies -> Nullable<Bytea>,
    }
}

diesel::table! {
    platform_uploads (id) {
        id -> Int8,
        certificate_id -> Uuid,
        filing_id -> Uuid,
        issued_at -> Timestamptz,
        due_on -> Date,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        response -> Nullable<Text>,
    }
}

diesel::table! {
    ratings (filing_id) {
        filing_id -> Uuid,
        score -> Int2,
        comment -> Nullable<Text>,
        rated_by -> Uuid,
        rated_at -> Timestamptz,
    }
}

diesel::table! {
    reviews (id) {
        id -> Int8,
        filing_id -> Uuid,
        visit -> Int4,
        department -> Text,
        verdict -> Text,
        opinion -> Nullable<Text>,
        reason -> Nullable<Text>,
        decided_by -> Uuid,
        decided_at -> Timestamptz,
    }
}

diesel::table! {
    sla_closed (day, item_code, department, closer_id, outcome, used_days, suspended_days, on_time_statutory, on_time_promised, shard) {
        day -> Date,
        item_code -> Text,
        department -> Text,
        closer_id -> Uuid,
        outcome -> Text,
        used_days -> Int4,
        suspended_days -> Int4,
        on_time_statutory -> Bool,
        on_time_promised -> Bool,
        shard -> Int2,
        n -> Int4,
    }
}

diesel::table! {
    sla_received (day, item_code, department, shard) {
        day -> Date,
        item_code -> Text,
        department -> Text,
        shard -> Int2,
        n -> Int4,
    }
}

diesel::table! {
    tasks (id) {
        id -> Int8,
        filing_id -> Uuid,
        state -> Text,
        role -> Text,
        department -> Text,
        created_at -> Timestamptz,
        claimed_by -> Nullable<Uuid>,
        claimed_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        due_on -> Nullable<Date>,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> Uuid,
        role -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        kind -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        credit_code -> Nullable<Text>,
        lang -> Text,
        password_hash -> Text,
        department -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(applicant_deadlines -> filings (filing_id));
diesel::joinable!(audit_log -> filings (filing_id));
diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(audit_seal_heads -> audit_seals (seal_seq));
diesel::joinable!(calendar_years -> calendar_regions (region));
diesel::joinable!(calendar_years -> users (loaded_by));
diesel::joinable!(certificate_events -> certificates (certificate_id));
diesel::joinable!(certificates -> filings (filing_id));
diesel::joinable!(clock_events -> filings (filing_id));
diesel::joinable!(clock_events -> users (actor_id));
diesel::joinable!(create_requests -> filings (filing_id));
diesel::joinable!(create_requests -> users (applicant_id));
diesel::joinable!(documents -> certificates (certificate_id));
diesel::joinable!(documents -> filings (filing_id));
diesel::joinable!(documents -> users (issued_by));
diesel::joinable!(draw_conflicts -> users (user_id));
diesel::joinable!(draw_filings -> draws (draw_id));
diesel::joinable!(draw_filings -> filings (filing_id));
diesel::joinable!(draws -> audit_seals (seal_seq));
diesel::joinable!(draws -> item_versions (item_version_id));
diesel::joinable!(escalations -> filings (filing_id));
diesel::joinable!(filings -> departments (department));
diesel::joinable!(filings -> item_versions (item_version_id));
diesel::joinable!(filings -> users (applicant_id));
diesel::joinable!(materials -> filings (filing_id));
diesel::joinable!(materials -> users (uploaded_by));
diesel::joinable!(objections -> filings (filing_id));
diesel::joinable!(objections -> users (recorded_by));
diesel::joinable!(outbox -> filings (filing_id));
diesel::joinable!(outbox -> users (recipient_id));
diesel::joinable!(ratings -> filings (filing_id));
diesel::joinable!(ratings -> users (rated_by));
diesel::joinable!(reviews -> departments (department));
diesel::joinable!(reviews -> filings (filing_id));
diesel::joinable!(reviews -> users (decided_by));
diesel::joinable!(tasks -> departments (department));
diesel::joinable!(tasks -> filings (filing_id));
diesel::joinable!(exchange_rows -> filings (filing_id));
diesel::joinable!(platform_uploads -> certificates (certificate_id));
diesel::joinable!(tasks -> users (claimed_by));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(users -> departments (department));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    applicant_deadlines,
    audit_heads,
    audit_log,
    audit_seal_heads,
    audit_seals,
    calendar_regions,
    calendar_years,
    certificate_events,
    certificate_serials,
    certificates,
    clock_events,
    create_requests,
    departments,
    documents,
    draw_conflicts,
    draw_filings,
    draws,
    escalations,
    exchange_rows,
    filing_counters,
    filings,
    item_versions,
    job_runs,
    login_throttle,
    materials,
    objections,
    outbox,
    platform_uploads,
    ratings,
    reviews,
    sla_closed,
    sla_received,
    tasks,
    user_roles,
    users,
);
