#pragma once
// Header-only test environment for the views that drive the engine (fTRI, super experts, importance):
// an EngineHost with a model (+ tokenizer when the folder has one) loaded and a temp activation database
// open for writing on the engine thread, a RunContext and a ViewHub wired to them. applyPreset calls are
// captured. Model loading and the database open happen through postBlocking (test setup only).
#include <QDir>
#include <QFileInfo>
#include <QString>
#include <QTemporaryDir>
#include <filesystem>
#include <memory>
#include <vector>

#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/run_context.h"
#include "app/gui/views/view_hub.h"

namespace moescope::test {

struct EngineViewEnv {
    QTemporaryDir tmp;
    gui::EngineHost host;
    std::shared_ptr<gui::EngineState> state = std::make_shared<gui::EngineState>();
    gui::RunContext context;
    gui::ViewHub hub;
    QString dbPath;
    QString modelDir;
    std::vector<std::pair<QString, Interventions>> presets;  // applyPreset calls
    QString error;

    // model: a folder or "demo". Returns false (error set) when loading fails.
    bool open(const QString& model) {
        dbPath = tmp.filePath(QStringLiteral("views.moescope.db"));
        hub.context = &context;
        hub.host = &host;
        hub.state = state;
        hub.databasePath = [this] { return dbPath; };
        hub.modelPath = [this] { return modelDir; };
        hub.applyPreset = [this](const QString& n, const Interventions& iv) { presets.emplace_back(n, iv); };
        host.postBlocking([&] {
            auto m = Model::load(model.toStdString());
            if (!m.ok()) {
                error = QString::fromStdString(m.message());
                return;
            }
            state->model = std::move(m.value());
            modelDir = QString::fromStdString(state->model->dir());
            if (std::filesystem::exists(std::filesystem::path(state->model->dir()) / "tokenizer.json")) {
                auto t = Tokenizer::from_model_dir(state->model->dir());
                if (!t.ok()) {
                    error = QString::fromStdString(t.message());
                    return;
                }
                state->tokenizer = t.value();
            }
            state->db = storage::Database::open(dbPath.toStdString(), storage::Access::Write);
        });
        return error.isEmpty();
    }
    ~EngineViewEnv() {
        host.cancelAll();
        host.postBlocking([this] {
            state->db.reset();
            state->unload();
        });
    }
};

}  // namespace moescope::test
